import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { LabIcon } from '@jupyterlab/ui-components';

import raySvgstr from '../style/icons/ray.svg';

/**
 * The Ray panel's icon: a head node linked to four workers. Its shapes carry
 * `jp-icon3`, so JupyterLab's themes recolour it (light and dark).
 */
export const rayIcon = new LabIcon({
  name: 'jupyter-ray-dev:ray',
  svgstr: raySvgstr
});

/**
 * A command's label and icon: in the palette its long label and no icon (the
 * palette shows none), in menus and toolbars its short label with `icon`.
 */
export function paletteOrMenu(
  palette: string,
  menu: string,
  icon: LabIcon = rayIcon
): {
  label: (args: ReadonlyPartialJSONObject) => string;
  icon: (args: ReadonlyPartialJSONObject) => LabIcon | undefined;
} {
  return {
    label: args => (args['isPalette'] ? palette : menu),
    icon: args => (args['isPalette'] ? undefined : icon)
  };
}
