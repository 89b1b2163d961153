/** The extension's icons, drawn with JupyterLab's icon colour classes so themes recolour them. */
import { LabIcon } from '@jupyterlab/ui-components';

export const nagelfluhIcon = new LabIcon({
  name: 'nagelfluh-lab:logo',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
  <g class="jp-icon3" fill="#616161">
    <circle cx="6" cy="7" r="3.2"/><circle cx="15.5" cy="5.5" r="2.4"/>
    <circle cx="11" cy="14" r="3.8"/><circle cx="19" cy="14.5" r="2.6"/>
    <circle cx="5" cy="18.5" r="2.2"/><circle cx="16" cy="20.5" r="1.8"/>
  </g></svg>`
});

export const flowIcon = new LabIcon({
  name: 'nagelfluh-lab:flow',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
  <g class="jp-icon3" fill="#616161">
    <rect x="2" y="3" width="7" height="5" rx="1"/><rect x="15" y="9.5" width="7" height="5" rx="1"/>
    <rect x="2" y="16" width="7" height="5" rx="1"/>
    <path d="M9 5.5h3v6.5h3v1H12v6.5H9v-1h2V13H9.5v-1H11V6.5H9z"/>
  </g></svg>`
});

/** Zoom out: a minus sign, the companion of JupyterLab's addIcon for zoom in. */
export const zoomOutIcon = new LabIcon({
  name: 'nagelfluh-lab:zoom-out',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
  <path class="jp-icon3" fill="#616161" d="M19 13H5v-2h14z"/></svg>`
});
