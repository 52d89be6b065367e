import { LabIcon } from '@jupyterlab/ui-components';

import storageSvgstr from '../../style/icons/storage.svg';

/** The Storage panel's icon: a stack of disks; `jp-icon3` follows the theme. */
export const storageIcon = new LabIcon({
  name: 'jupyter-ray-dev:storage',
  svgstr: storageSvgstr
});
