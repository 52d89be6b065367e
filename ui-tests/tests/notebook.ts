/** Helpers the specs share (not a spec: Playwright runs only *.spec.ts). */

/** An .ipynb's JSON: a Python 3 notebook of these code cells, never run. */
export function notebook(sources: string[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: 'python3',
        display_name: 'Python 3',
        language: 'python'
      }
    },
    cells: sources.map((source, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source
    }))
  });
}
