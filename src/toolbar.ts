/**
 * A document toolbar button that runs one of our commands on the document's path
 * (Run as Ray job, Promote to prod): one widget extension for every such button.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { type LabIcon, ToolbarButton } from '@jupyterlab/ui-components';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import type { Widget } from '@lumino/widgets';

export interface ICommandButtonOptions {
  /** The command run with `{ path }` of the document. */
  command: string;
  /** The toolbar item's name (unique in the toolbar). */
  name: string;
  /** Where it goes among the toolbar's items. */
  rank: number;
  tooltip: string;
  testId: string;
  /** An icon, or else the tooltip as a text label. */
  icon?: LabIcon;
  /** Which documents get the button (all by default). */
  accepts?: (path: string) => boolean;
}

export class CommandButtonExtension
  implements DocumentRegistry.WidgetExtension
{
  constructor(
    private _commands: JupyterFrontEnd['commands'],
    private _options: ICommandButtonOptions
  ) {}

  createNew(
    widget: Widget & { toolbar?: any },
    context: DocumentRegistry.Context
  ): IDisposable {
    const o = this._options;
    if (!widget.toolbar || (o.accepts && !o.accepts(context.path))) {
      return new DisposableDelegate(() => undefined);
    }
    const button = new ToolbarButton({
      ...(o.icon ? { icon: o.icon } : { label: o.tooltip }),
      tooltip: o.tooltip,
      dataset: { 'data-testid': o.testId },
      onClick: () => {
        void this._commands.execute(o.command, { path: context.path });
      }
    });
    widget.toolbar.insertItem(o.rank, o.name, button);
    return new DisposableDelegate(() => button.dispose());
  }
}
