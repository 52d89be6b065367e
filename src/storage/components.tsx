/**
 * React views of the storage panel. They hold no data of their own: the
 * panel (panel.tsx) passes its model's state (model.ts) and actions down.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  closeIcon,
  copyIcon,
  downloadIcon,
  fileIcon,
  fileUploadIcon,
  folderIcon,
  newFolderIcon,
  refreshIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';
import {
  List,
  type ListImperativeAPI,
  type RowComponentProps
} from 'react-window';

import type {
  ApiError,
  IRayFolder,
  IStorageEntry,
  IStoragePreview,
  IStorageRoot
} from '../api';
import {
  errorHint,
  flattenRecord,
  formatModified,
  formatSize,
  formatValue,
  rayKindLabel
} from './format';
import type { IListingState, IPreviewState } from './model';
import { breadcrumbs } from './paths';
import type { ISnippet } from './snippets';
import { percent, type IUploadItem } from './upload';

/** Height of one row of the list, in pixels. */
export const ROW_HEIGHT = 26;

/** What the views can ask the panel to do. */
export interface IStorageActions {
  selectRoot(name: string): void;
  navigate(path: string): void;
  select(index: number): void;
  openIndex(index: number): void;
  goUp(): void;
  refresh(): void;
  retry(): void;
  newFolder(): void;
  uploadFiles(files: File[]): void;
  cancelUpload(id: number): void;
  clearUploads(): void;
  dismissError(): void;
  download(entry: IStorageEntry): void;
  copyUri(entry: IStorageEntry): void;
  insertSnippet(entry: IStorageEntry, snippet?: ISnippet): void;
  copyText(text: string): void;
  closePreview(): void;
  snippets(entry: IStorageEntry): ISnippet[];
  ensureLoaded(index: number): void;
  removeSelected(): void;
  renameSelected(): void;
}

export interface IStorageViewProps {
  trans: TranslationBundle;
  roots: IStorageRoot[] | null;
  rootsError: ApiError | null;
  root: IStorageRoot | null;
  listing: IListingState;
  rayInfo: (path: string) => IRayFolder | null | undefined;
  uploads: readonly IUploadItem[];
  preview: IPreviewState;
  actionError: ApiError | null;
  actions: IStorageActions;
}

/** The whole panel: header, breadcrumb, list, uploads, preview. */
export function StorageView(props: IStorageViewProps): JSX.Element {
  const { trans, roots, rootsError, root, listing, actions } = props;
  if (rootsError && !roots) {
    return (
      <div className="jp-RayDev-storage">
        <ErrorBanner error={rootsError} trans={trans} onRetry={actions.retry} />
      </div>
    );
  }
  if (!roots) {
    return (
      <div className="jp-RayDev-storage">
        <div className="jp-RayDev-loading">
          {trans.__('Loading storage roots…')}
        </div>
      </div>
    );
  }
  if (!roots.length) {
    return (
      <div className="jp-RayDev-storage">
        <div
          className="jp-RayDev-muted jp-RayDev-storageEmpty"
          data-testid="storage-no-roots"
        >
          {trans.__(
            'No storage roots are configured. Set c.RayDev.storage_roots in the Jupyter server configuration.'
          )}
        </div>
      </div>
    );
  }
  const readOnly = root?.read_only ?? true;
  return (
    <div className="jp-RayDev-storage" data-testid="storage-view">
      <div className="jp-RayDev-storageHeader">
        <select
          className="jp-RayDev-storageRoot"
          aria-label={trans.__('Storage root')}
          title={root ? root.url : ''}
          data-testid="storage-root"
          value={root?.name ?? ''}
          onChange={event => actions.selectRoot(event.currentTarget.value)}
        >
          {roots.map(r => (
            <option key={r.name} value={r.name}>
              {r.read_only ? trans.__('%1 (read-only)', r.name) : r.name}
            </option>
          ))}
        </select>
        <ToolbarButtonComponent
          icon={refreshIcon}
          tooltip={trans.__('Refresh')}
          dataset={{ 'data-testid': 'storage-refresh' }}
          onClick={() => actions.refresh()}
        />
        <ToolbarButtonComponent
          icon={newFolderIcon}
          tooltip={
            readOnly
              ? trans.__('This root is read-only')
              : trans.__('New folder')
          }
          enabled={!readOnly}
          dataset={{ 'data-testid': 'storage-new-folder' }}
          onClick={() => actions.newFolder()}
        />
        <UploadButton
          trans={trans}
          disabled={readOnly}
          onFiles={actions.uploadFiles}
        />
      </div>
      {root && (
        <Breadcrumb
          trans={trans}
          root={root}
          path={listing.path}
          ray={listing.ray}
          onNavigate={actions.navigate}
        />
      )}
      {props.actionError && (
        <ErrorBanner
          error={props.actionError}
          trans={trans}
          onDismiss={actions.dismissError}
        />
      )}
      {listing.ray && (
        <RayFolderInfo
          trans={trans}
          ray={listing.ray}
          onNavigate={actions.navigate}
        />
      )}
      <EntryList {...props} readOnly={readOnly} />
      {props.uploads.length > 0 && (
        <UploadList
          trans={trans}
          uploads={props.uploads}
          onCancel={actions.cancelUpload}
          onClear={actions.clearUploads}
        />
      )}
      {props.preview.target && root && (
        <PreviewPane
          trans={trans}
          state={props.preview}
          actions={actions}
          onNavigate={actions.navigate}
        />
      )}
    </div>
  );
}

function UploadButton(props: {
  trans: TranslationBundle;
  disabled: boolean;
  onFiles: (files: File[]) => void;
}): JSX.Element {
  const input = React.useRef<HTMLInputElement>(null);
  return (
    <>
      <ToolbarButtonComponent
        icon={fileUploadIcon}
        tooltip={
          props.disabled
            ? props.trans.__('This root is read-only')
            : props.trans.__('Upload files (or drop them on the list)')
        }
        enabled={!props.disabled}
        dataset={{ 'data-testid': 'storage-upload' }}
        onClick={() => input.current?.click()}
      />
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid="storage-upload-input"
        onChange={event => {
          const files = Array.from(event.currentTarget.files ?? []);
          event.currentTarget.value = '';
          if (files.length) {
            props.onFiles(files);
          }
        }}
      />
    </>
  );
}

/** Root name, then each folder; each crumb opens its folder. */
export function Breadcrumb(props: {
  trans: TranslationBundle;
  root: IStorageRoot;
  path: string;
  ray: IRayFolder | null;
  onNavigate: (path: string) => void;
}): JSX.Element {
  const crumbs = breadcrumbs(props.root.name, props.path, 5);
  return (
    <nav
      className="jp-RayDev-breadcrumb"
      aria-label={props.trans.__('Folder path')}
      data-testid="storage-breadcrumb"
    >
      {crumbs.map((crumb, i) => (
        <React.Fragment key={`${i}:${crumb.path}`}>
          {i > 0 && <span className="jp-RayDev-breadcrumbSep">/</span>}
          <button
            className="jp-RayDev-crumb"
            title={crumb.path || props.root.url}
            aria-current={i === crumbs.length - 1 ? 'location' : undefined}
            onClick={() => props.onNavigate(crumb.path)}
          >
            {crumb.label}
          </button>
        </React.Fragment>
      ))}
      {props.ray && (
        <span
          className={`jp-RayDev-badge jp-RayDev-rayBadge jp-mod-${props.ray.kind}`}
          data-testid="storage-folder-kind"
        >
          {rayKindLabel(props.ray.kind, props.trans)}
        </span>
      )}
    </nav>
  );
}

/** An error from the server, with its hint and optional retry / dismiss. */
export function ErrorBanner(props: {
  error: ApiError;
  trans: TranslationBundle;
  onRetry?: () => void;
  onDismiss?: () => void;
}): JSX.Element {
  const { error, trans } = props;
  const hint = errorHint(error, trans);
  return (
    <div
      className={`jp-RayDev-error jp-RayDev-storageError jp-mod-status${error.status}`}
      role="alert"
      data-testid="storage-error"
      data-status={error.status}
    >
      <div className="jp-RayDev-errorMessage">{error.message}</div>
      {hint && <div className="jp-RayDev-muted">{hint}</div>}
      <div className="jp-RayDev-errorFooter">
        {props.onRetry && (
          <button
            className="jp-Button jp-mod-styled jp-mod-accept"
            onClick={props.onRetry}
          >
            {trans.__('Retry')}
          </button>
        )}
        {props.onDismiss && (
          <button className="jp-Button jp-mod-styled" onClick={props.onDismiss}>
            {trans.__('Dismiss')}
          </button>
        )}
      </div>
    </div>
  );
}

/** A Tune experiment / trial / Train run / checkpoint: params, metrics, checkpoints. */
export function RayFolderInfo(props: {
  trans: TranslationBundle;
  ray: IRayFolder;
  onNavigate?: (path: string) => void;
}): JSX.Element {
  const { ray, trans } = props;
  const params = ray.params !== undefined ? flattenRecord(ray.params) : [];
  const metrics = ray.last_metrics ? flattenRecord(ray.last_metrics) : [];
  return (
    <div className="jp-RayDev-rayInfo" data-testid="storage-ray-info">
      <div className="jp-RayDev-rayInfoTitle">
        <span
          className={`jp-RayDev-badge jp-RayDev-rayBadge jp-mod-${ray.kind}`}
        >
          {rayKindLabel(ray.kind, trans)}
        </span>
        {ray.kind === 'tune_experiment' && (
          <span className="jp-RayDev-muted">
            {trans.__('Ray Tune experiment')}
          </span>
        )}
        {ray.kind === 'tune_trial' && (
          <span className="jp-RayDev-muted">{trans.__('Ray Tune trial')}</span>
        )}
        {ray.kind === 'train_run' && (
          <span className="jp-RayDev-muted">{trans.__('Ray Train run')}</span>
        )}
        {ray.kind === 'checkpoint' && (
          <span className="jp-RayDev-muted">
            {trans.__('Ray Train checkpoint')}
          </span>
        )}
      </div>
      {params.length > 0 && (
        <KeyValueTable
          title={trans.__('Parameters')}
          rows={params}
          testId="storage-ray-params"
        />
      )}
      {metrics.length > 0 && (
        <KeyValueTable
          title={trans.__('Last metrics')}
          rows={metrics}
          testId="storage-ray-metrics"
        />
      )}
      {ray.checkpoints && ray.checkpoints.length > 0 && (
        <div className="jp-RayDev-rayCheckpoints">
          <div className="jp-RayDev-sectionTitle">
            {trans.__('Checkpoints (newest first)')}
          </div>
          <ul>
            {ray.checkpoints.map(cp => (
              <li key={cp.path}>
                <button
                  className="jp-RayDev-linkButton"
                  title={cp.uri}
                  onClick={() => props.onNavigate?.(cp.path)}
                >
                  {cp.name}
                </button>
                {cp.latest && (
                  <span className="jp-RayDev-badge">{trans.__('latest')}</span>
                )}
                {cp.modified !== null && (
                  <span className="jp-RayDev-muted">
                    {' '}
                    {formatModified(cp.modified)}
                  </span>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function KeyValueTable(props: {
  title: string;
  rows: [string, unknown][];
  testId: string;
}): JSX.Element {
  return (
    <div className="jp-RayDev-kv" data-testid={props.testId}>
      <div className="jp-RayDev-sectionTitle">{props.title}</div>
      <table>
        <tbody>
          {props.rows.slice(0, 50).map(([key, value]) => (
            <tr key={key}>
              <th title={key}>{key}</th>
              <td>{formatValue(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface IRowProps {
  entries: IStorageEntry[];
  version: number;
  selected: number;
  hasMore: boolean;
  trans: TranslationBundle;
  rayInfo: (path: string) => IRayFolder | null | undefined;
  onSelect: (index: number) => void;
  onOpen: (index: number) => void;
}

function EntryRow(props: RowComponentProps<IRowProps>): JSX.Element {
  const { index, style, entries, trans } = props;
  if (index >= entries.length) {
    return (
      <div
        style={style}
        className="jp-RayDev-storageEntry jp-mod-loadingRow"
        {...props.ariaAttributes}
      >
        <span className="jp-RayDev-muted">{trans.__('Loading more…')}</span>
      </div>
    );
  }
  const entry = entries[index];
  const isDir = entry.kind === 'directory';
  const icon = isDir ? folderIcon : fileIcon;
  const ray = isDir ? props.rayInfo(entry.path) : undefined;
  const kind =
    ray?.kind ?? (entry.ray_hint === 'checkpoint' ? 'checkpoint' : null);
  const selected = index === props.selected;
  return (
    <div
      style={style}
      {...props.ariaAttributes}
      aria-selected={selected}
      className={`jp-RayDev-storageEntry${selected ? ' jp-mod-selected' : ''}${
        entry.kind === 'symlink' ? ' jp-mod-link' : ''
      }`}
      data-index={index}
      data-name={entry.name}
      data-kind={entry.kind}
      data-testid="storage-entry"
      title={entry.name}
      onClick={() => props.onSelect(index)}
      onDoubleClick={() => props.onOpen(index)}
      onContextMenu={() => props.onSelect(index)}
    >
      <icon.react tag="span" className="jp-RayDev-entryIcon" />
      <span className="jp-RayDev-entryName">{entry.name}</span>
      {kind && (
        <span
          className={`jp-RayDev-badge jp-RayDev-rayBadge jp-mod-${kind}`}
          data-testid="storage-entry-badge"
        >
          {rayKindLabel(kind, trans)}
        </span>
      )}
      {entry.kind === 'symlink' && (
        <span
          className="jp-RayDev-muted"
          title={trans.__('A link that is broken or leads outside the root')}
        >
          {trans.__('link')}
        </span>
      )}
      <span className="jp-RayDev-entrySize">
        {isDir ? '' : formatSize(entry.size)}
      </span>
      <span className="jp-RayDev-entryModified">
        {formatModified(entry.modified)}
      </span>
    </div>
  );
}

/** The virtualised, paged list with keyboard navigation and a drop zone. */
function EntryList(
  props: IStorageViewProps & { readOnly: boolean }
): JSX.Element {
  const { listing, actions, trans, readOnly } = props;
  const listRef = React.useRef<ListImperativeAPI>(null);
  const [dragging, setDragging] = React.useState(false);
  const hasMore = listing.nextCursor !== null;
  const rowCount = listing.entries.length + (hasMore ? 1 : 0);

  React.useEffect(() => {
    if (listing.selected >= 0 && listing.selected < rowCount) {
      try {
        listRef.current?.scrollToRow({
          index: listing.selected,
          align: 'smart'
        });
      } catch {
        // not measured yet
      }
    }
  }, [listing.selected]);

  const rowProps = React.useMemo<IRowProps>(
    () => ({
      entries: listing.entries,
      version: listing.version,
      selected: listing.selected,
      hasMore,
      trans,
      rayInfo: props.rayInfo,
      onSelect: actions.select,
      onOpen: actions.openIndex
    }),
    [listing.version, listing.selected, hasMore]
  );

  const onKeyDown = (event: React.KeyboardEvent) => {
    const page = Math.max(
      1,
      Math.floor(
        ((event.currentTarget as HTMLElement).clientHeight || 260) / ROW_HEIGHT
      ) - 1
    );
    const selected = listing.selected;
    let handled = true;
    switch (event.key) {
      case 'ArrowDown':
        actions.select(
          selected < 0 ? 0 : Math.min(listing.entries.length - 1, selected + 1)
        );
        break;
      case 'ArrowUp':
        actions.select(selected < 0 ? 0 : Math.max(0, selected - 1));
        break;
      case 'PageDown':
        actions.select(
          Math.min(listing.entries.length - 1, Math.max(0, selected) + page)
        );
        break;
      case 'PageUp':
        actions.select(Math.max(0, selected - page));
        break;
      case 'Home':
        actions.select(0);
        break;
      case 'End':
        actions.select(listing.entries.length - 1);
        break;
      case 'Enter':
        if (selected >= 0) {
          actions.openIndex(selected);
        }
        break;
      case 'Backspace':
      case 'ArrowLeft':
        actions.goUp();
        break;
      case 'ArrowRight':
        if (selected >= 0 && listing.entries[selected]?.kind === 'directory') {
          actions.openIndex(selected);
        }
        break;
      case 'Delete':
        if (!readOnly && selected >= 0) {
          actions.removeSelected();
        }
        break;
      case 'F2':
        if (!readOnly && selected >= 0) {
          actions.renameSelected();
        }
        break;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  };

  const hasFiles = (event: React.DragEvent) =>
    Array.from(event.dataTransfer?.types ?? []).includes('Files');

  return (
    <div
      className={`jp-RayDev-storageList${dragging ? ' jp-mod-dropTarget' : ''}`}
      tabIndex={0}
      role="listbox"
      aria-label={trans.__('Folder contents')}
      data-testid="storage-list"
      onKeyDown={onKeyDown}
      onDragEnter={event => {
        if (hasFiles(event) && !readOnly) {
          event.preventDefault();
          setDragging(true);
        }
      }}
      onDragOver={event => {
        if (hasFiles(event) && !readOnly) {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
        }
      }}
      onDragLeave={event => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) {
          setDragging(false);
        }
      }}
      onDrop={event => {
        setDragging(false);
        if (readOnly || !hasFiles(event)) {
          return;
        }
        event.preventDefault();
        event.stopPropagation();
        const files = Array.from(event.dataTransfer.files ?? []);
        if (files.length) {
          actions.uploadFiles(files);
        }
      }}
    >
      {listing.error && (
        <ErrorBanner
          error={listing.error}
          trans={trans}
          onRetry={actions.retry}
        />
      )}
      {!listing.loaded && listing.loading && (
        <div className="jp-RayDev-loading">{trans.__('Loading…')}</div>
      )}
      {listing.loaded && listing.entries.length === 0 && !listing.error && (
        <div
          className="jp-RayDev-muted jp-RayDev-storageEmpty"
          data-testid="storage-empty"
        >
          {readOnly
            ? trans.__('This folder is empty.')
            : trans.__('This folder is empty. Drop files here to upload them.')}
        </div>
      )}
      {rowCount > 0 && (
        <div className="jp-RayDev-storageRows">
          <List
            listRef={listRef}
            rowComponent={EntryRow}
            rowCount={rowCount}
            rowHeight={ROW_HEIGHT}
            rowProps={rowProps}
            overscanCount={10}
            defaultHeight={300}
            onRowsRendered={(_visible, all) =>
              actions.ensureLoaded(all.stopIndex)
            }
            style={{ height: '100%' }}
          />
        </div>
      )}
      {dragging && (
        <div className="jp-RayDev-dropHint">
          {trans.__('Drop to upload here')}
        </div>
      )}
    </div>
  );
}

/** Uploads in progress and finished, with progress bars. */
export function UploadList(props: {
  trans: TranslationBundle;
  uploads: readonly IUploadItem[];
  onCancel: (id: number) => void;
  onClear: () => void;
}): JSX.Element {
  const { trans, uploads } = props;
  const finished = uploads.some(u => u.status !== 'uploading');
  return (
    <div className="jp-RayDev-uploads" data-testid="storage-uploads">
      {uploads.map(u => {
        const pct = percent(u);
        return (
          <div
            key={u.id}
            className={`jp-RayDev-upload jp-mod-${u.status}`}
            data-testid="storage-upload-item"
            data-status={u.status}
          >
            <div className="jp-RayDev-uploadHeader">
              <span className="jp-RayDev-entryName" title={u.path}>
                {u.name}
              </span>
              <span className="jp-RayDev-muted">
                {u.status === 'uploading' && `${pct}%`}
                {u.status === 'done' && trans.__('uploaded')}
                {u.status === 'cancelled' && trans.__('cancelled')}
                {u.status === 'error' && trans.__('failed')}
              </span>
              {u.status === 'uploading' && (
                <ToolbarButtonComponent
                  icon={closeIcon}
                  tooltip={trans.__('Cancel upload')}
                  onClick={() => props.onCancel(u.id)}
                />
              )}
            </div>
            <div
              className="jp-RayDev-bar"
              role="progressbar"
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={pct}
            >
              <div className="jp-RayDev-barFill" style={{ width: `${pct}%` }} />
            </div>
            {u.error && (
              <div className="jp-RayDev-uploadError">{u.error.message}</div>
            )}
          </div>
        );
      })}
      {finished && (
        <button className="jp-RayDev-linkButton" onClick={props.onClear}>
          {trans.__('Clear finished')}
        </button>
      )}
    </div>
  );
}

/** The selected item: preview (or folder summary), actions and snippets. */
export function PreviewPane(props: {
  trans: TranslationBundle;
  state: IPreviewState;
  actions: IStorageActions;
  onNavigate?: (path: string) => void;
}): JSX.Element | null {
  const { trans, state, actions } = props;
  const target = state.target;
  const snippets = React.useMemo(
    () => (target ? actions.snippets(target) : []),
    [target, state.item]
  );
  const [snippetId, setSnippetId] = React.useState<string>('');
  if (!target) {
    return null;
  }
  const snippet = snippets.find(s => s.id === snippetId) ?? snippets[0];
  const isFile = target.kind === 'file';
  return (
    <div className="jp-RayDev-preview" data-testid="storage-preview">
      <div className="jp-RayDev-previewHeader">
        <span className="jp-RayDev-previewName" title={target.path}>
          {target.name}
        </span>
        {isFile && (
          <ToolbarButtonComponent
            icon={downloadIcon}
            tooltip={trans.__('Download')}
            dataset={{ 'data-testid': 'storage-download' }}
            onClick={() => actions.download(target)}
          />
        )}
        <ToolbarButtonComponent
          icon={copyIcon}
          tooltip={trans.__('Copy URI')}
          dataset={{ 'data-testid': 'storage-copy-uri' }}
          onClick={() => actions.copyUri(target)}
        />
        <ToolbarButtonComponent
          icon={closeIcon}
          tooltip={trans.__('Close preview')}
          onClick={() => actions.closePreview()}
        />
      </div>
      <div className="jp-RayDev-previewBody">
        {state.loading && (
          <div className="jp-RayDev-loading">
            {trans.__('Loading preview…')}
          </div>
        )}
        {state.error && <ErrorBanner error={state.error} trans={trans} />}
        {state.preview && (
          <PreviewContent trans={trans} preview={state.preview} />
        )}
        {!isFile && state.item?.ray && (
          <RayFolderInfo
            trans={trans}
            ray={state.item.ray}
            onNavigate={props.onNavigate}
          />
        )}
        {!isFile && state.item && !state.item.ray && !state.loading && (
          <div className="jp-RayDev-muted">
            {trans.__('Folder. Press Enter or double-click to open it.')}
          </div>
        )}
      </div>
      {snippet && (
        <div className="jp-RayDev-snippet">
          <div className="jp-RayDev-snippetBar">
            <select
              aria-label={trans.__('Snippet')}
              data-testid="storage-snippet-kind"
              value={snippet.id}
              onChange={event => setSnippetId(event.currentTarget.value)}
            >
              {snippets.map(s => (
                <option key={s.id} value={s.id}>
                  {s.label}
                </option>
              ))}
            </select>
            <button
              className="jp-Button jp-mod-styled jp-mod-accept"
              data-testid="storage-insert-snippet"
              title={trans.__(
                'Insert this code in a new cell of the active notebook'
              )}
              onClick={() => actions.insertSnippet(target, snippet)}
            >
              {trans.__('Insert snippet')}
            </button>
            <button
              className="jp-Button jp-mod-styled"
              title={trans.__('Copy the code')}
              onClick={() => actions.copyText(snippet.code)}
            >
              {trans.__('Copy')}
            </button>
          </div>
          <pre
            className="jp-RayDev-snippetCode"
            data-testid="storage-snippet-code"
          >
            {snippet.code}
          </pre>
        </div>
      )}
    </div>
  );
}

/** The body of a file preview, by type. */
export function PreviewContent(props: {
  trans: TranslationBundle;
  preview: IStoragePreview;
}): JSX.Element {
  const { trans, preview } = props;
  const meta = (
    <div className="jp-RayDev-muted jp-RayDev-previewMeta">
      {formatSize(preview.size)} · {preview.mime}
      {preview.modified ? ` · ${formatModified(preview.modified)}` : ''}
    </div>
  );
  let body: React.ReactNode = null;
  switch (preview.type) {
    case 'csv':
    case 'parquet':
      body = <TablePreview trans={trans} preview={preview} />;
      break;
    case 'image':
      body = preview.data_url ? (
        <img
          className="jp-RayDev-previewImage"
          src={preview.data_url}
          alt={preview.name}
        />
      ) : null;
      break;
    case 'notebook':
      body = (
        <>
          <div className="jp-RayDev-muted">
            {trans.__(
              'Notebook: %1 cells, kernel %2 (%3)',
              preview.cells ?? '?',
              preview.kernel ?? '?',
              preview.language ?? '?'
            )}
          </div>
          <pre className="jp-RayDev-previewText">{preview.text}</pre>
        </>
      );
      break;
    case 'text':
    case 'json':
      body = (
        <>
          <pre
            className="jp-RayDev-previewText"
            data-testid="storage-preview-text"
          >
            {preview.text}
          </pre>
          {preview.tail && (
            <>
              <div className="jp-RayDev-muted">
                {trans.__('… end of the file:')}
              </div>
              <pre className="jp-RayDev-previewText">{preview.tail}</pre>
            </>
          )}
        </>
      );
      break;
    default:
      body = null;
  }
  return (
    <div
      className={`jp-RayDev-previewContent jp-mod-${preview.type}`}
      data-type={preview.type}
    >
      {meta}
      {body}
      {preview.message && (
        <div className="jp-RayDev-muted">{preview.message}</div>
      )}
      {preview.truncated &&
        preview.type !== 'csv' &&
        preview.type !== 'parquet' && (
          <div className="jp-RayDev-muted">
            {trans.__(
              'Preview limited to the first %1.',
              formatSize(preview.max_bytes)
            )}
          </div>
        )}
    </div>
  );
}

function TablePreview(props: {
  trans: TranslationBundle;
  preview: IStoragePreview;
}): JSX.Element {
  const { trans, preview } = props;
  const columns = preview.columns ?? [];
  const rows = preview.rows ?? [];
  return (
    <>
      {columns.length > 0 && (
        <div className="jp-RayDev-schema" data-testid="storage-preview-schema">
          <div className="jp-RayDev-sectionTitle">{trans.__('Schema')}</div>
          <ul>
            {columns.map(c => (
              <li key={c.name}>
                <code>{c.name}</code>{' '}
                <span className="jp-RayDev-muted">{c.type}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className="jp-RayDev-tableScroll">
        <table
          className="jp-RayDev-previewTable"
          data-testid="storage-preview-table"
        >
          <thead>
            <tr>
              {columns.map(c => (
                <th key={c.name}>{c.name}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => (
              <tr key={i}>
                {row.map((cell, j) => (
                  <td key={j}>{formatValue(cell)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="jp-RayDev-muted">
        {preview.num_rows !== undefined
          ? trans.__('First %1 of %2 rows', rows.length, preview.num_rows)
          : trans.__('First %1 rows', rows.length)}
        {preview.num_row_groups !== undefined
          ? ` · ${trans.__('%1 row groups', preview.num_row_groups)}`
          : ''}
      </div>
    </>
  );
}
