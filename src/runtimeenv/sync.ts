/**
 * The pure logic of the runtime_env editor: YAML text <-> the form's value,
 * keeping the file's comments through form edits; the server's findings
 * (`pip.packages[2]`, `env_vars.API_TOKEN`) mapped onto form fields; the
 * env vars table and pip package list.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  stringify,
  YAMLMap,
  YAMLSeq
} from 'yaml';

import type { IRuntimeEnvFinding } from '../api';

export type RuntimeEnv = Record<string, unknown>;

export interface IYamlError {
  message: string;
  line: number | null;
  column: number | null;
}

export interface IParsed {
  /** The environment, or null when the text is not a YAML mapping. */
  value: RuntimeEnv | null;
  error: IYamlError | null;
}

/** Parse runtime_env.yaml's text (empty text is the empty environment). */
export function parseYaml(text: string, trans: TranslationBundle): IParsed {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const first = doc.errors[0];
    const pos = first.linePos?.[0];
    return {
      value: null,
      error: {
        message: first.message.split('\n')[0],
        line: pos?.line ?? null,
        column: pos?.col ?? null
      }
    };
  }
  const value = doc.toJS();
  if (value === null || value === undefined) {
    return { value: {}, error: null };
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    return {
      value: null,
      error: {
        message: trans.__(
          'runtime_env.yaml must hold a mapping of fields (working_dir, pip, env_vars, ...)'
        ),
        line: 1,
        column: 1
      }
    };
  }
  return { value: value as RuntimeEnv, error: null };
}

/** Structural equality of JSON values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (typeof a !== typeof b || a === null || b === null) {
    return false;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) {
      return false;
    }
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof a === 'object') {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    if (ka.length !== kb.length) {
      return false;
    }
    return ka.every(k =>
      deepEqual(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k]
      )
    );
  }
  return false;
}

function jsOf(node: unknown): unknown {
  if (node && typeof node === 'object' && 'toJSON' in (node as object)) {
    return (node as { toJSON: () => unknown }).toJSON();
  }
  return node;
}

/** `value` laid onto `node`, reusing the nodes (and comments) that did not change. */
function merge(doc: Document, node: unknown, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const map: YAMLMap = isMap(node)
      ? node
      : (doc.createNode({}) as unknown as YAMLMap);
    const wanted = value as Record<string, unknown>;
    for (const pair of [...map.items]) {
      const key = String(jsOf(pair.key));
      if (!(key in wanted)) {
        map.delete(pair.key);
      }
    }
    for (const [key, v] of Object.entries(wanted)) {
      const pair = map.items.find(p => String(jsOf(p.key)) === key);
      if (pair) {
        const merged = merge(doc, pair.value, v);
        if (merged !== pair.value) {
          pair.value = merged as typeof pair.value;
        }
      } else {
        map.set(doc.createNode(key), merge(doc, null, v));
      }
    }
    return map;
  }
  if (Array.isArray(value)) {
    if (isSeq(node) && deepEqual(jsOf(node), value)) {
      return node;
    }
    const old = isSeq(node) ? [...node.items] : [];
    const used = new Set<number>();
    const seq: YAMLSeq = isSeq(node)
      ? node
      : (doc.createNode([]) as unknown as YAMLSeq);
    seq.items = value.map(v => {
      const i = old.findIndex((o, j) => !used.has(j) && deepEqual(jsOf(o), v));
      if (i >= 0) {
        used.add(i);
        return old[i];
      }
      return merge(doc, null, v);
    }) as typeof seq.items;
    return seq;
  }
  if (isScalar(node) && node.value === value) {
    return node; // unchanged: keeps its quoting and comment
  }
  if (isScalar(node) && (value === null || typeof value !== 'object')) {
    // a new value in the old node: its comment stays; its quoting too, for a string
    if (typeof node.value !== typeof value) {
      node.type = undefined;
    }
    node.value = value;
    return node;
  }
  return doc.createNode(value);
}

/**
 * The YAML text after a form edit: `value` laid onto `text`'s document, so
 * comments, key order and quoting of what did not change are kept. A text
 * that does not parse is replaced.
 */
export function applyToYaml(text: string, value: RuntimeEnv): string {
  const doc = parseDocument(text);
  if (doc.errors.length || (doc.contents && !isMap(doc.contents))) {
    return Object.keys(value).length ? stringify(value) : '';
  }
  if (deepEqual(doc.toJS() ?? {}, value)) {
    return text;
  }
  doc.contents = merge(doc, doc.contents, value) as typeof doc.contents;
  const out = doc.toString();
  return out.trim() === '{}' ? '' : out;
}

// ------------------------------------------------------------ findings

export type PathPart = string | number;

/** `pip.packages[2]` -> ['pip', 'packages', 2]; `env_vars["A.B"]` -> ['env_vars', 'A.B']. */
export function parsePath(path: string): PathPart[] {
  const parts: PathPart[] = [];
  const re = /([^.[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path)) !== null) {
    if (m[1] !== undefined) {
      parts.push(m[1]);
    } else if (m[2] !== undefined) {
      parts.push(Number(m[2]));
    } else {
      parts.push(m[3]);
    }
  }
  return parts;
}

/** rjsf's extraErrors: `{config: {setup_timeout_seconds: {__errors: [...]}}}`. */
export interface IErrorSchema {
  __errors?: string[];
  [key: string]: IErrorSchema | string[] | undefined;
}

/** Fields the editor shows in its own sections rather than in the generated form. */
export const OWN_SECTIONS = ['env_vars', 'pip'];

/**
 * The findings as rjsf extraErrors, for the fields of the generated form
 * (env vars and pip have their own sections; see `findingsFor`).
 */
export function toErrorSchema(
  findings: IRuntimeEnvFinding[],
  trans: TranslationBundle
): IErrorSchema {
  const root: IErrorSchema = {};
  for (const finding of findings) {
    const parts = parsePath(finding.path);
    if (!parts.length || OWN_SECTIONS.includes(String(parts[0]))) {
      continue;
    }
    let node = root;
    for (const part of parts) {
      const key = String(part);
      node[key] = (node[key] as IErrorSchema) ?? {};
      node = node[key] as IErrorSchema;
    }
    node.__errors = [...(node.__errors ?? []), text(finding, trans)];
  }
  return root;
}

/** The message with its fix, as one line for a person. */
export function text(
  finding: IRuntimeEnvFinding,
  trans: TranslationBundle
): string {
  return finding.fix
    ? trans.__('%1 Fix: %2', finding.message, finding.fix)
    : finding.message;
}

/** Findings about a field: `['env_vars', 'A']` matches env_vars.A and deeper. */
export function findingsFor(
  findings: IRuntimeEnvFinding[],
  prefix: PathPart[]
): IRuntimeEnvFinding[] {
  return findings.filter(f => {
    const parts = parsePath(f.path);
    return prefix.every((p, i) => String(parts[i]) === String(p));
  });
}

/** Findings no field shows (the whole environment, a YAML syntax error). */
export function generalFindings(
  findings: IRuntimeEnvFinding[],
  shownFields: string[]
): IRuntimeEnvFinding[] {
  return findings.filter(f => {
    const first = parsePath(f.path)[0];
    return first === undefined || !shownFields.includes(String(first));
  });
}

// ------------------------------------------------------------ env vars

/** The same names the server warns about: their values are masked. */
const SECRET_NAME =
  /(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

export interface IEnvVarRow {
  name: string;
  value: string;
}

/** The env_vars mapping as table rows (non-string values shown as text). */
export function envVarRows(env: RuntimeEnv): IEnvVarRow[] {
  const vars = env.env_vars;
  if (!vars || typeof vars !== 'object' || Array.isArray(vars)) {
    return [];
  }
  return Object.entries(vars as Record<string, unknown>).map(
    ([name, value]) => ({
      name,
      value: typeof value === 'string' ? value : JSON.stringify(value)
    })
  );
}

/** The environment with env_vars from the table (rows without a name are dropped). */
export function withEnvVars(env: RuntimeEnv, rows: IEnvVarRow[]): RuntimeEnv {
  const vars: Record<string, string> = {};
  for (const row of rows) {
    if (row.name.trim()) {
      vars[row.name.trim()] = row.value;
    }
  }
  const out = { ...env };
  if (Object.keys(vars).length) {
    out.env_vars = vars;
  } else {
    delete out.env_vars;
  }
  return out;
}

// ------------------------------------------------------------ pip

/**
 * The pip packages as a list: the list form, or the mapping's `packages`;
 * null when `pip` names a requirements file (edited in the YAML).
 */
export function pipPackages(env: RuntimeEnv): string[] | null {
  const pip = env.pip;
  if (pip === undefined || pip === null) {
    return [];
  }
  if (Array.isArray(pip)) {
    return pip.map(String);
  }
  if (typeof pip === 'object') {
    const packages = (pip as Record<string, unknown>).packages;
    if (Array.isArray(packages)) {
      return packages.map(String);
    }
    if (packages === undefined) {
      return [];
    }
  }
  return null;
}

/** The canonical name of a requirement (`Foo_Bar[x]>=1` -> `foo-bar`), or null for a path/URL. */
export function requirementName(requirement: string): string | null {
  const m =
    /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[|==|>=|<=|~=|!=|>|<|;|@|$)/.exec(
      requirement
    );
  return m ? m[1].toLowerCase().replace(/[-_.]+/g, '-') : null;
}

/** The environment with `packages` as its pip packages, in the shape it had. */
export function withPipPackages(
  env: RuntimeEnv,
  packages: string[]
): RuntimeEnv {
  const out = { ...env };
  const pip = env.pip;
  if (pip && typeof pip === 'object' && !Array.isArray(pip)) {
    out.pip = { ...(pip as Record<string, unknown>), packages };
  } else if (packages.length) {
    out.pip = packages;
  } else {
    delete out.pip;
  }
  return out;
}

/** Add a requirement, replacing one of the same project (`six` -> `six==1.17`). */
export function addPackage(packages: string[], requirement: string): string[] {
  const req = requirement.trim();
  if (!req || packages.includes(req)) {
    return packages;
  }
  const name = requirementName(req);
  const i = name ? packages.findIndex(p => requirementName(p) === name) : -1;
  if (i >= 0) {
    return packages.map((p, j) => (j === i ? req : p));
  }
  return [...packages, req];
}

// ------------------------------------------------------------ the form

/**
 * The schema the generated form shows: the shipped one without the fields
 * the editor has its own sections for, and without its `$id`: rjsf registers
 * the root schema under a key of its own and points `#/$defs/...` at that key,
 * which Ajv cannot resolve once the root names itself by an `$id`.
 */
export function formSchema(
  schema: Record<string, unknown>
): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { $id, ...rest } = schema;
  const properties = { ...(rest.properties as Record<string, unknown>) };
  for (const key of OWN_SECTIONS) {
    delete properties[key];
  }
  return { ...rest, properties };
}

/** The part of the environment the generated form edits. */
export function formData(env: RuntimeEnv): RuntimeEnv {
  const out = { ...env };
  for (const key of OWN_SECTIONS) {
    delete out[key];
  }
  return out;
}

/** Drop what rjsf leaves for an emptied field (undefined, '', empty lists and maps). */
export function prune(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(prune);
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const p = prune(v);
      if (p === undefined || p === '' || (Array.isArray(p) && !p.length)) {
        continue;
      }
      if (
        typeof p === 'object' &&
        p !== null &&
        !Array.isArray(p) &&
        !Object.keys(p).length
      ) {
        continue;
      }
      out[k] = p;
    }
    return out;
  }
  return value;
}

/** The whole environment after a form change: the form's fields plus the own sections. */
export function fromForm(env: RuntimeEnv, form: RuntimeEnv): RuntimeEnv {
  const out = prune(form) as RuntimeEnv;
  for (const key of OWN_SECTIONS) {
    if (env[key] !== undefined) {
      out[key] = env[key];
    }
  }
  // keep the file's key order for fields that stay
  const ordered: RuntimeEnv = {};
  for (const key of Object.keys(env)) {
    if (key in out) {
      ordered[key] = out[key];
    }
  }
  for (const key of Object.keys(out)) {
    if (!(key in ordered)) {
      ordered[key] = out[key];
    }
  }
  return ordered;
}
