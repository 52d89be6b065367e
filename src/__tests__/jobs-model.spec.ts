import { nullTranslator } from '@jupyterlab/translation';
import {
  countByStatus,
  filterJobs,
  formatResources,
  isActive,
  isRunnableFile,
  isTerminal,
  jobDuration,
  NO_FILTER,
  parseRunForm,
  parseSize,
  projectCandidates,
  projectsOf,
  runtimeEnvKeys,
  sortJobs,
  statusBadge,
  EMPTY_FORM
} from '../jobs/model';
import { formatDuration } from '../time';
import { ansiToRuns, paletteColour, stripAnsi } from '../jobs/ansi';
import { job } from './jobs-fixtures';

const trans = nullTranslator.load('jupyter_ray_dev');

describe('job statuses', () => {
  it('knows terminal and active statuses', () => {
    expect(isTerminal('SUCCEEDED')).toBe(true);
    expect(isTerminal('FAILED')).toBe(true);
    expect(isTerminal('STOPPED')).toBe(true);
    expect(isTerminal(null)).toBe(true);
    expect(isTerminal('RUNNING')).toBe(false);
    expect(isActive('PENDING')).toBe(true);
    expect(isActive('STOPPED')).toBe(false);
  });

  it('gives each status a badge', () => {
    expect(statusBadge('FAILED')).toEqual({ label: 'FAILED', kind: 'failed' });
    expect(statusBadge(null)).toEqual({ label: 'UNKNOWN', kind: 'unknown' });
  });

  it('sorts running, then pending, then newest first', () => {
    const jobs = [
      job({ submission_id: 'old', status: 'SUCCEEDED', start_time: 1 }),
      job({ submission_id: 'new', status: 'FAILED', start_time: 5 }),
      job({
        submission_id: 'pend',
        status: 'PENDING',
        start_time: null,
        created: 3
      }),
      job({ submission_id: 'run', status: 'RUNNING', start_time: 2 })
    ];
    expect(sortJobs(jobs).map(j => j.submission_id)).toEqual([
      'run',
      'pend',
      'new',
      'old'
    ]);
  });

  it('filters by status and project', () => {
    const jobs = [
      job({ submission_id: 'a', status: 'RUNNING', project: 'p1' }),
      job({ submission_id: 'b', status: 'FAILED', project: 'p2' }),
      job({ submission_id: 'c', status: null, project: '' }),
      job({ submission_id: 'd', status: 'FAILED', project: null })
    ];
    expect(filterJobs(jobs, NO_FILTER)).toHaveLength(4);
    expect(
      filterJobs(jobs, { statuses: ['FAILED'], project: null }).map(
        j => j.submission_id
      )
    ).toEqual(['b', 'd']);
    expect(
      filterJobs(jobs, { statuses: ['FAILED', 'RUNNING'], project: 'p1' }).map(
        j => j.submission_id
      )
    ).toEqual(['a']);
    expect(
      filterJobs(jobs, { statuses: [], project: '' }).map(j => j.submission_id)
    ).toEqual(['c']);
    expect(projectsOf(jobs)).toEqual(['', 'p1', 'p2']);
    expect(countByStatus(jobs)).toEqual({ RUNNING: 1, FAILED: 2 });
  });
});

describe('durations', () => {
  it('formats seconds compactly', () => {
    expect(formatDuration(null, trans)).toBe('—');
    expect(formatDuration(0.42, trans)).toBe('0.4s');
    expect(formatDuration(9.96, trans)).toBe('10s');
    expect(formatDuration(42.7, trans)).toBe('42s');
    expect(formatDuration(185, trans)).toBe('3m 05s');
    expect(formatDuration(7380, trans)).toBe('2h 03m');
    expect(formatDuration(3 * 86400 + 4 * 3600, trans)).toBe('3d 4h');
  });

  it('counts up to now while a job runs', () => {
    expect(jobDuration(job(), 5000)).toBe(12.5);
    expect(
      jobDuration(
        job({ status: 'RUNNING', end_time: null, start_time: 100 }),
        130
      )
    ).toBe(30);
    expect(
      jobDuration(job({ start_time: null, duration: null }), 1)
    ).toBeNull();
  });
});

describe('the run form', () => {
  it('parses sizes', () => {
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('512 MB')).toBe(512e6);
    expect(parseSize('1e9')).toBe(1e9);
    expect(parseSize('lots')).toBeNull();
    expect(parseSize('3 parsecs')).toBeNull();
  });

  it('turns fields into a request', () => {
    expect(parseRunForm(EMPTY_FORM, trans)).toEqual({
      ok: true,
      args: '',
      resources: {}
    });
    expect(
      parseRunForm(
        {
          args: ' --lr 0.1 ',
          cpus: '2',
          gpus: '0.5',
          memory: '1GiB',
          custom: 'accel=1, tpu=2'
        },
        trans
      )
    ).toEqual({
      ok: true,
      args: '--lr 0.1',
      resources: {
        num_cpus: 2,
        num_gpus: 0.5,
        memory: 1024 ** 3,
        custom: { accel: 1, tpu: 2 }
      }
    });
  });

  it('names the field at fault', () => {
    expect(parseRunForm({ ...EMPTY_FORM, cpus: '-1' }, trans)).toMatchObject({
      ok: false,
      field: 'cpus'
    });
    expect(parseRunForm({ ...EMPTY_FORM, gpus: 'one' }, trans)).toMatchObject({
      ok: false,
      field: 'gpus'
    });
    expect(parseRunForm({ ...EMPTY_FORM, memory: 'big' }, trans)).toMatchObject(
      {
        ok: false,
        field: 'memory'
      }
    );
    expect(
      parseRunForm({ ...EMPTY_FORM, custom: 'accel' }, trans)
    ).toMatchObject({
      ok: false,
      field: 'custom'
    });
  });

  it('summarises resources', () => {
    expect(
      formatResources({
        num_cpus: 1,
        num_gpus: 1,
        memory: 2 * 1024 ** 3,
        custom: { a: 2 }
      })
    ).toBe('1 CPU · 1 GPU · 2 GiB · 2 a');
    expect(formatResources(undefined)).toBe('');
  });

  it('knows runnable files and where the project env may be', () => {
    expect(isRunnableFile('a/b.py')).toBe(true);
    expect(isRunnableFile('a/b.ipynb')).toBe(true);
    expect(isRunnableFile('a/b.txt')).toBe(false);
    expect(isRunnableFile(null)).toBe(false);
    expect(projectCandidates('a/b/c.py')).toEqual(['a/b', 'a', '']);
    expect(projectCandidates('c.py')).toEqual(['']);
    expect(
      runtimeEnvKeys('pip:\n  - numpy\nenv_vars:\n  A: "1"\n# c: x\n')
    ).toEqual(['pip', 'env_vars']);
  });
});

describe('ANSI colours (anser)', () => {
  it('leaves plain lines alone', () => {
    expect(ansiToRuns('hello')).toEqual([
      { text: 'hello', className: '', style: {} }
    ]);
    expect(ansiToRuns('')).toEqual([]);
  });

  it("maps colours to JupyterLab's ANSI classes", () => {
    const runs = ansiToRuns('\x1b[31merror\x1b[0m done \x1b[1;92mok\x1b[0m');
    expect(runs.map(r => r.text)).toEqual(['error', ' done ', 'ok']);
    expect(runs[0].className).toBe('ansi-red-fg');
    expect(runs[1].className).toBe('');
    expect(runs[2].className).toContain('ansi-green-intense-fg');
    expect(runs[2].className).toContain('ansi-bold');
  });

  it('renders 256 and true colours inline', () => {
    const [palette] = ansiToRuns('\x1b[38;5;196mx');
    expect(palette.style.color).toBe(paletteColour(196));
    expect(paletteColour(196)).toBe('rgb(255, 0, 0)');
    expect(paletteColour(232)).toBe('rgb(8, 8, 8)');
    const [tc] = ansiToRuns('\x1b[48;2;1;2;3my');
    expect(tc.style.backgroundColor).toBe('rgb(1, 2, 3)');
  });

  it('strips codes for search', () => {
    expect(stripAnsi('\x1b[32mgreen\x1b[0m text\x1b[2K')).toBe('green text');
  });
});
