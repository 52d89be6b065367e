import type { IJob } from '../api';

/** A job as the server lists it; override what a test cares about. */
export function job(overrides: Partial<IJob> = {}): IJob {
  return {
    submission_id: 'raysubmit_abc',
    job_id: '01000000',
    known_to_ray: true,
    status: 'SUCCEEDED',
    message: 'Job finished successfully.',
    error_type: null,
    error_summary: null,
    entrypoint: 'python train.py --epochs 3',
    start_time: 1000,
    end_time: 1012.5,
    duration: 12.5,
    driver_exit_code: 0,
    metadata: {},
    launched_here: true,
    project: 'proj',
    file: 'proj/train.py',
    user: 'alice',
    created: 999,
    settings: {
      file: 'proj/train.py',
      project: 'proj',
      args: ['--epochs', '3'],
      resources: { num_cpus: 1 },
      magics: 'comment'
    },
    can_rerun: true,
    ...overrides
  };
}
