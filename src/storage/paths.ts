/**
 * Paths inside a storage root: '/'-separated, relative, '' is the root.
 * Pure functions (jest-tested); the server checks every path again.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IStorageRoot } from '../api';

/** One step of the breadcrumb: a label and the folder it opens. */
export interface ICrumb {
  label: string;
  path: string;
}

/** Split a relative path into its segments ('' has none). */
export function segments(path: string): string[] {
  return path.split('/').filter(part => part !== '');
}

/** `a/b` + `c` -> `a/b/c`; either side may be ''. */
export function joinPath(...parts: string[]): string {
  return parts.flatMap(segments).join('/');
}

/** The folder holding `path` ('' for top-level items and for the root). */
export function parentPath(path: string): string {
  const parts = segments(path);
  parts.pop();
  return parts.join('/');
}

/** The last segment of `path` ('' for the root). */
export function baseName(path: string): string {
  const parts = segments(path);
  return parts.length ? parts[parts.length - 1] : '';
}

/** The lower-case extension of a file name without its dot ('' if none). */
export function extension(name: string): string {
  const base = baseName(name);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

/**
 * The breadcrumb of `path` in root `rootName`: the root first, then each
 * folder. With `maxCrumbs`, middle folders collapse into one '…' crumb that
 * opens the deepest hidden folder.
 */
export function breadcrumbs(
  rootName: string,
  path: string,
  maxCrumbs = Infinity
): ICrumb[] {
  const parts = segments(path);
  const crumbs: ICrumb[] = [{ label: rootName, path: '' }];
  parts.forEach((part, i) => {
    crumbs.push({ label: part, path: parts.slice(0, i + 1).join('/') });
  });
  if (crumbs.length <= maxCrumbs || maxCrumbs < 3) {
    return crumbs;
  }
  // keep the root and the last (maxCrumbs - 2) folders
  const tail = crumbs.slice(crumbs.length - (maxCrumbs - 2));
  const hidden = crumbs[crumbs.length - (maxCrumbs - 2) - 1];
  return [crumbs[0], { label: '…', path: hidden.path }, ...tail];
}

/**
 * The item's address as Ray, pyarrow and fsspec take it: an absolute path
 * for local/NFS roots, `s3://bucket/prefix/path` or `gs://...` otherwise.
 * Mirrors the server's `StorageRoot.uri`.
 */
export function itemUri(root: IStorageRoot, path: string): string {
  const base =
    root.protocol === 'file' ? root.url.replace(/^file:\/\//, '') : root.url;
  const rel = segments(path).join('/');
  if (!rel) {
    return base;
  }
  return base.endsWith('/') ? base + rel : `${base}/${rel}`;
}

/**
 * Why a new name cannot be used inside a folder, or `null` if it can:
 * one path segment, no '/', '\\', NUL or control characters, not '.' or '..'.
 */
export function invalidName(
  name: string,
  trans: TranslationBundle
): string | null {
  if (!name.trim()) {
    return trans.__('A name is required.');
  }
  if (name === '.' || name === '..') {
    return trans.__('"%1" is not a valid name.', name);
  }
  if (/[/\\]/.test(name)) {
    return trans.__('A name cannot contain "/" or "\\".');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    return trans.__('A name cannot contain control characters.');
  }
  return null;
}
