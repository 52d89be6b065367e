/**
 * The document toolbar button (Run as Ray job, Promote to prod) on a real Lumino
 * toolbar; the command registry is JupyterLab's own.
 */
import { Toolbar } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { CommandButtonExtension } from '../toolbar';

function documentWidget(): Widget & { toolbar: Toolbar } {
  const widget = new Widget() as Widget & { toolbar: Toolbar };
  widget.toolbar = new Toolbar();
  return widget;
}

const context = (path: string) => ({ path }) as any;

describe('CommandButtonExtension', () => {
  it('runs its command with the document path, on the documents it accepts', async () => {
    const commands = new CommandRegistry();
    const ran: string[] = [];
    commands.addCommand('test:run', {
      execute: args => {
        ran.push(args.path as string);
      }
    });
    const extension = new CommandButtonExtension(commands, {
      command: 'test:run',
      name: 'test-run',
      rank: 10,
      tooltip: 'Run it',
      testId: 'test-run-button',
      accepts: path => path.endsWith('.py')
    });
    const script = documentWidget();
    const disposable = extension.createNew(script, context('dir/a.py'));
    expect(Array.from(script.toolbar.names())).toContain('test-run');

    const other = documentWidget();
    extension.createNew(other, context('notes.md'));
    expect(Array.from(other.toolbar.names())).not.toContain('test-run');

    Widget.attach(script.toolbar, document.body);
    const find = () =>
      script.toolbar.node.querySelector<HTMLElement>(
        '[data-testid="test-run-button"]'
      );
    // the button is a ReactWidget: it renders on the next animation frame
    for (let i = 0; i < 100 && !find(); i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    const node = find()!;
    expect(node).not.toBeNull();
    // ToolbarButton acts on mousedown/click of its inner button
    const button = node.querySelector('button') ?? node;
    button.dispatchEvent(new MouseEvent('mousedown', { bubbles: true }));
    button.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(ran).toEqual(['dir/a.py']);

    disposable.dispose();
    Widget.detach(script.toolbar);
  });
});
