/**
 * The hand-written types of `types.ts` against the ones generated from
 * `openapi.json` (`schema.d.ts`, `jlpm build:api-types`): this file compiles
 * only while they agree. `jlpm check:api-types` fails when `schema.d.ts` is
 * not what `openapi.json` generates.
 */
import type { components } from './schema';
import type * as T from './types';

type Schemas = components['schemas'];

/** `true` when every A is a B and every B an A. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** `true` when every A is a B: A may say more than B (a field B leaves optional). */
type Narrows<A, B> = [A] extends [B] ? true : false;
type Expect<T extends true> = T;

/** The same values both ways. */
export type SameAsOpenAPI = [
  Expect<Same<T.Resources, Schemas['Resources']>>,
  Expect<Same<T.IErrorBody, Schemas['Error']>>,
  Expect<Same<T.JobStatus | null, Schemas['JobStatus']>>,
  Expect<Same<T.IJobResources, Schemas['JobResources']>>,
  Expect<Same<T.IJobSettings, Schemas['JobSettings']>>,
  Expect<Same<T.IJob, Schemas['Job']>>,
  Expect<Same<T.IJobList, Schemas['JobList']>>,
  Expect<Same<T.IJobRequest, Schemas['JobRequest']>>,
  Expect<Same<T.IJobWarning, Schemas['JobWarning']>>,
  Expect<Same<T.ISubmittedJob, Schemas['SubmittedJob']>>,
  Expect<Same<T.LogStreamMessage, Schemas['LogStreamMessage']>>,
  Expect<Same<T.IStorageRoot, Schemas['StorageRoot']>>,
  Expect<Same<T.IStorageRoots, Schemas['StorageRoots']>>,
  Expect<Same<T.IStorageEntry, Schemas['StorageEntry']>>,
  Expect<Same<T.IRayCheckpoint, Schemas['RayCheckpoint']>>,
  Expect<Same<T.IStorageListing, Schemas['StorageListing']>>,
  Expect<Same<T.IStorageItem, Schemas['StorageItem']>>,
  Expect<Same<T.IStoragePreview, Schemas['StoragePreview']>>,
  Expect<Same<T.IStorageUpload, Schemas['StorageUpload']>>,
  Expect<Same<T.IStorageDeleted, Schemas['StorageDeleted']>>,
  Expect<Same<T.IRuntimeEnvFinding, Schemas['RuntimeEnvFinding']>>,
  Expect<Same<T.INotebookInstall, Schemas['NotebookInstall']>>,
  Expect<Same<T.INotebookInstalls, Schemas['NotebookInstalls']>>,
  Expect<Same<T.IRuntimeEnvVerdict, Schemas['RuntimeEnvVerdict']>>,
  Expect<Same<T.IRuntimeEnvFile, Schemas['RuntimeEnvFile']>>,
  Expect<Same<T.IInstallEvent, Schemas['InstallEvent']>>,
  Expect<Same<T.IInstallRequest, Schemas['InstallRequest']>>,
  Expect<Same<T.IKubeRayStatus, Schemas['KubeRayStatus']>>,
  Expect<Same<T.IApplyResult, Schemas['ApplyResult']>>,
  Expect<Same<T.IPromoteRequest, Schemas['PromoteRequest']>>,
  Expect<Same<T.IPromoteBuilder, Schemas['Builder']>>,
  Expect<Same<T.IServeApp, Schemas['ServeApp']>>,
  Expect<Same<T.IPromotionDiff, Schemas['PromotionDiff']>>,
  Expect<Same<T.IRunSummary, Schemas['RunSummary']>>,
  Expect<Same<T.IPinSource, Schemas['PinSource']>>,
  Expect<Same<T.IReviewWarning, Schemas['ReviewWarning']>>,
  Expect<Same<T.IReapplyResult, Schemas['ReapplyResult']>>,
  Expect<Same<T.IScheduleReview, Schemas['ScheduleReview']>>,
  Expect<Same<T.ILogsReview, Schemas['LogsReview']>>,
  Expect<Same<T.IPromotionSchedule | null, Schemas['PromotionSchedule']>>,
  Expect<Same<T.IScheduledPromotions, Schemas['ScheduledPromotions']>>,
  Expect<Same<T.ISuspendResult, Schemas['SuspendResult']>>,
  Expect<Same<T.ISaveLogRequest, Schemas['SaveLogRequest']>>,
  Expect<Same<T.ISavedLog, Schemas['SavedLog']>>
];

/**
 * Every value these types describe is valid by the contract, but they say
 * more than it does: fields the server always sends that openapi.json leaves
 * optional (node_ip, entrypoint.source, ...), and the build stream as a union
 * by `type` where the contract has one object. Marking those fields required
 * in openapi.json turns an entry into a `Same` one.
 */
export type NarrowerThanOpenAPI = [
  Expect<Narrows<T.IRayNode, Schemas['Node']>>,
  Expect<Narrows<T.IClusterSummary, Schemas['Cluster']>>,
  Expect<Narrows<T.IRayFolder | null, Schemas['RayFolder']>>,
  Expect<Narrows<T.IWorkingDirSize, Schemas['WorkingDirSize']>>,
  Expect<Narrows<T.IContainerResources, Schemas['ContainerResources']>>,
  Expect<Narrows<T.IRayClusterSummary, Schemas['RayClusterSummary']>>,
  Expect<Narrows<T.IKubernetesDiscovery, Schemas['KubernetesDiscovery']>>,
  Expect<Narrows<T.IPromotionPlan, Schemas['PromotionPlan']>>,
  Expect<Narrows<T.IPromotion, Schemas['Promotion']>>,
  Expect<Narrows<T.IPromotionDetail, Schemas['PromotionDetail']>>,
  Expect<Narrows<T.BuildStreamMessage, Schemas['BuildStreamMessage']>>
];
