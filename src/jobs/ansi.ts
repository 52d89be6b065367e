/**
 * ANSI escape codes -> styled text runs, with `anser` (a small, maintained
 * parser) doing the parsing. Colours map to JupyterLab's own ANSI classes
 * (`ansi-red-fg`, `ansi-red-intense-fg`... from @jupyterlab/rendermime, used
 * inside `.jp-RenderedText pre`), so logs look like notebook output in both
 * light and dark themes. No HTML strings: callers build text nodes.
 */
import Anser from 'anser';

/** A run of text with one style. */
export interface IStyledRun {
  text: string;
  /** Space-separated CSS classes, `''` when none. */
  className: string;
  /** Inline colours for 256-colour and true-colour codes. */
  style: { color?: string; backgroundColor?: string };
}

// Any escape sequence anser does not render (cursor moves, titles...).
// eslint-disable-next-line no-control-regex
const LEFTOVER_ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g;

/** Split a line with ANSI codes into styled runs (codes removed). */
export function ansiToRuns(line: string): IStyledRun[] {
  if (line.indexOf('\x1b') < 0) {
    return line ? [{ text: line, className: '', style: {} }] : [];
  }
  const entries = Anser.ansiToJson(line, {
    json: true,
    use_classes: true,
    remove_empty: true
  });
  const runs: IStyledRun[] = [];
  for (const entry of entries) {
    const text = entry.content.replace(LEFTOVER_ESCAPES, '');
    if (!text) {
      continue;
    }
    const classes: string[] = [];
    const style: IStyledRun['style'] = {};
    colour(entry.fg, entry.fg_truecolor, 'fg', classes, style);
    colour(entry.bg, entry.bg_truecolor, 'bg', classes, style);
    for (const decoration of entry.decorations ?? []) {
      classes.push(`jp-RayDev-ansi-${decoration}`);
      if (decoration === 'bold') {
        classes.push('ansi-bold');
      } else if (decoration === 'underline') {
        classes.push('ansi-underline');
      }
    }
    runs.push({ text, className: classes.join(' '), style });
  }
  return runs;
}

/** Remove ANSI codes, e.g. for search and the downloaded text. */
export function stripAnsi(line: string): string {
  return ansiToRuns(line)
    .map(run => run.text)
    .join('');
}

function colour(
  name: string | null | undefined,
  truecolor: string | null | undefined,
  kind: 'fg' | 'bg',
  classes: string[],
  style: IStyledRun['style']
): void {
  if (!name) {
    return;
  }
  const key = kind === 'fg' ? 'color' : 'backgroundColor';
  if (name === 'ansi-truecolor' && truecolor) {
    style[key] = `rgb(${truecolor})`;
    return;
  }
  const palette = /^ansi-palette-(\d+)$/.exec(name);
  if (palette) {
    style[key] = paletteColour(parseInt(palette[1], 10));
    return;
  }
  const bright = /^ansi-bright-(\w+)$/.exec(name);
  if (bright) {
    classes.push(`ansi-${bright[1]}-intense-${kind}`);
    return;
  }
  classes.push(`${name}-${kind}`);
}

/** The xterm 256-colour palette above the 16 named colours. */
export function paletteColour(index: number): string {
  if (index >= 232) {
    const level = 8 + (index - 232) * 10;
    return `rgb(${level}, ${level}, ${level})`;
  }
  const cube = index - 16;
  const steps = [0, 95, 135, 175, 215, 255];
  const r = steps[Math.floor(cube / 36) % 6];
  const g = steps[Math.floor(cube / 6) % 6];
  const b = steps[cube % 6];
  return `rgb(${r}, ${g}, ${b})`;
}
