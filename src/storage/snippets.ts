/**
 * Code that reads a storage item from a notebook: Ray Data, pyarrow.fs,
 * plain `open` / `fsspec.open`, and for Ray Train/Tune folders the matching
 * Ray API. Pure (jest-tested): the panel only inserts the text.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IRayFolder, IStorageRoot } from '../api';
import { extension, itemUri } from './paths';

/** One way to read an item; the first of a list is the default. */
export interface ISnippet {
  id: string;
  /** Short label for a picker, e.g. "Ray Data". */
  label: string;
  code: string;
}

/** What a snippet is about. */
export interface ISnippetTarget {
  path: string;
  name: string;
  kind: 'file' | 'directory' | 'symlink';
  ray_hint?: 'checkpoint';
  /** The folder's Ray Train/Tune summary when known (stat / first page). */
  ray?: IRayFolder | null;
}

const TABLE_READERS: Record<string, string> = {
  parquet: 'read_parquet',
  pq: 'read_parquet',
  csv: 'read_csv',
  tsv: 'read_csv',
  json: 'read_json',
  jsonl: 'read_json',
  ndjson: 'read_json',
  npy: 'read_numpy',
  txt: 'read_text',
  log: 'read_text',
  md: 'read_text',
  png: 'read_images',
  jpg: 'read_images',
  jpeg: 'read_images',
  gif: 'read_images',
  bmp: 'read_images',
  tif: 'read_images',
  tiff: 'read_images',
  webp: 'read_images',
  tfrecord: 'read_tfrecords',
  tfrecords: 'read_tfrecords',
  avro: 'read_avro'
};

const TEXT_EXTENSIONS = new Set([
  'txt',
  'log',
  'md',
  'csv',
  'tsv',
  'json',
  'jsonl',
  'ndjson',
  'yaml',
  'yml',
  'toml',
  'py',
  'sh',
  'cfg',
  'ini',
  'xml',
  'html'
]);

/** A Python string literal for any text (JSON's escapes are Python's too). */
export function pyString(text: string): string {
  return JSON.stringify(text);
}

/** Is this item a Ray Train checkpoint folder? */
export function isCheckpoint(target: ISnippetTarget): boolean {
  return (
    target.kind === 'directory' &&
    (target.ray_hint === 'checkpoint' || target.ray?.kind === 'checkpoint')
  );
}

/**
 * The snippets for an item, the most useful first.
 *
 * Remote roots configured with fsspec options (a private endpoint, a
 * profile) get a comment: the option values never reach the browser.
 */
export function snippetsFor(
  root: IStorageRoot,
  target: ISnippetTarget,
  trans: TranslationBundle
): ISnippet[] {
  const uri = itemUri(root, target.path);
  const q = pyString(uri);
  const remote = root.protocol !== 'file';
  const note = optionsNote(root, trans);
  const out: ISnippet[] = [];

  if (isCheckpoint(target)) {
    out.push(
      checkpointSnippet(
        target.ray?.checkpoint ?? uri,
        note,
        trans.__('Ray Train checkpoint')
      )
    );
  } else if (target.kind === 'directory') {
    const ray = target.ray;
    if (ray?.kind === 'tune_experiment') {
      out.push({
        id: 'tune-experiment',
        label: trans.__('Ray Tune results'),
        code:
          note +
          'from ray import tune\n\n' +
          `analysis = tune.ExperimentAnalysis(${q})\n` +
          'df = analysis.dataframe()\n' +
          'df.head()'
      });
      out.push({
        id: 'tune-restore',
        label: trans.__('Ray Tune restore'),
        code:
          note +
          'from ray import tune\n\n' +
          `# ${trans.__('pass the same trainable the experiment ran')}\n` +
          `tuner = tune.Tuner.restore(${q}, trainable=train_fn)\n` +
          'results = tuner.get_results()\n' +
          'results.get_dataframe().head()'
      });
    } else if (ray?.kind === 'tune_trial' || ray?.kind === 'train_run') {
      out.push({
        id: 'train-result',
        label: trans.__('Ray Train result'),
        code:
          note +
          'from ray.train import Result\n\n' +
          `result = Result.from_path(${q})\n` +
          'print(result.metrics)\n' +
          'result.checkpoint'
      });
      const latest = ray.checkpoints?.[0];
      if (latest) {
        out.push(
          checkpointSnippet(latest.uri, note, trans.__('Latest checkpoint'))
        );
      }
    }
    out.push({
      id: 'ray-data',
      label: 'Ray Data',
      code:
        note +
        'import ray\n\n' +
        `ds = ray.data.read_parquet(${q})\n` +
        'ds.schema()'
    });
    out.push({
      id: 'pyarrow',
      label: 'pyarrow.fs',
      code:
        note +
        'import pyarrow.fs\n\n' +
        `fs, path = pyarrow.fs.FileSystem.from_uri(${q})\n` +
        'infos = fs.get_file_info(pyarrow.fs.FileSelector(path))\n' +
        '[(i.base_name, i.size) for i in infos]'
    });
    out.push(
      remote
        ? {
            id: 'open',
            label: 'fsspec',
            code:
              note +
              'import fsspec\n\n' +
              `fsspec.filesystem(${pyString(root.protocol)}).ls(${q})`
          }
        : {
            id: 'open',
            label: 'os.listdir',
            code: `import os\n\nos.listdir(${q})`
          }
    );
    return out;
  } else {
    const ext = extension(target.name);
    const reader = TABLE_READERS[ext] ?? 'read_binary_files';
    const extra =
      ext === 'tsv'
        ? ',\n    parse_options=pyarrow.csv.ParseOptions(delimiter="\\t")'
        : '';
    out.push({
      id: 'ray-data',
      label: 'Ray Data',
      code:
        note +
        (extra ? 'import pyarrow.csv\n' : '') +
        'import ray\n\n' +
        `ds = ray.data.${reader}(${q}${extra})\n` +
        (reader === 'read_images' || reader === 'read_binary_files'
          ? 'ds.take(1)'
          : 'ds.take(5)')
    });
    out.push(pyarrowFileSnippet(ext, q, note));
    out.push(openSnippet(ext, q, remote, note));
  }
  return out;
}

/** The default snippet (what "Insert snippet" uses). */
export function defaultSnippet(
  root: IStorageRoot,
  target: ISnippetTarget,
  trans: TranslationBundle
): ISnippet {
  return snippetsFor(root, target, trans)[0];
}

function checkpointSnippet(uri: string, note: string, label: string): ISnippet {
  return {
    id: 'checkpoint',
    label,
    code:
      note +
      'import os\n\n' +
      'import ray.train\n\n' +
      `checkpoint = ray.train.Checkpoint(${pyString(uri)})\n` +
      'with checkpoint.as_directory() as path:\n' +
      '    print(os.listdir(path))'
  };
}

function pyarrowFileSnippet(ext: string, q: string, note: string): ISnippet {
  const head =
    note +
    'import pyarrow.fs\n' +
    (ext === 'parquet' || ext === 'pq'
      ? 'import pyarrow.parquet as pq\n'
      : ext === 'csv' || ext === 'tsv'
        ? 'import pyarrow.csv\n'
        : '') +
    '\n' +
    `fs, path = pyarrow.fs.FileSystem.from_uri(${q})\n`;
  let body: string;
  if (ext === 'parquet' || ext === 'pq') {
    body = 'table = pq.read_table(path, filesystem=fs)\ntable.schema';
  } else if (ext === 'csv' || ext === 'tsv') {
    const opts =
      ext === 'tsv'
        ? ', parse_options=pyarrow.csv.ParseOptions(delimiter="\\t")'
        : '';
    body =
      'with fs.open_input_stream(path) as f:\n' +
      `    table = pyarrow.csv.read_csv(f${opts})\n` +
      'table.schema';
  } else {
    body =
      'with fs.open_input_stream(path) as f:\n    data = f.read()\nlen(data)';
  }
  return { id: 'pyarrow', label: 'pyarrow.fs', code: head + body };
}

function openSnippet(
  ext: string,
  q: string,
  remote: boolean,
  note: string
): ISnippet {
  const text = TEXT_EXTENSIONS.has(ext);
  const mode = text ? '"r"' : '"rb"';
  const read =
    ext === 'json' ? '    data = json.load(f)\n' : '    data = f.read()\n';
  const imports =
    (ext === 'json' ? 'import json\n' : '') + (remote ? 'import fsspec\n' : '');
  const opener = remote ? 'fsspec.open' : 'open';
  return {
    id: 'open',
    label: remote ? 'fsspec.open' : 'open()',
    code:
      (remote ? note : '') +
      (imports ? imports + '\n' : '') +
      `with ${opener}(${q}, ${mode}) as f:\n` +
      read +
      (ext === 'json' ? 'data' : 'data[:1000]')
  };
}

function optionsNote(root: IStorageRoot, trans: TranslationBundle): string {
  if (root.protocol === 'file' || !root.option_names.length) {
    return '';
  }
  return (
    `# ${trans.__('The storage root "%1" sets fsspec options (%2): configure the same here', root.name, root.option_names.join(', '))}\n` +
    `# ${trans.__('(environment variables or a filesystem= argument).')}\n`
  );
}
