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
