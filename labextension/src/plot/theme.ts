/**
 * Plot colours from JupyterLab's theme: Plotly draws on canvas and SVG with
 * explicit colours, so CSS variables must be read and the figure redrawn when
 * the user switches between light and dark themes.
 */
import { IDisposable } from '@lumino/disposable';

export interface ITheme {
  /** Paper (around the plot area) background. */
  paper: string;
  /** Plot area background. */
  plot: string;
  font: string;
  /** Secondary text: hints, the map's attribution. */
  fontMuted: string;
  fontFamily: string;
  fontSize: number;
  grid: string;
  border: string;
  /** Land and water of the offline base map. */
  land: string;
  water: string;
  light: boolean;
}

const FALLBACK: ITheme = {
  paper: '#ffffff',
  plot: '#ffffff',
  font: 'rgba(0, 0, 0, 0.87)',
  fontMuted: 'rgba(0, 0, 0, 0.54)',
  fontFamily: 'system-ui, sans-serif',
  fontSize: 12,
  grid: '#e0e0e0',
  border: '#bdbdbd',
  land: '#eeeeee',
  water: '#ffffff',
  light: true
};

/**
 * What every plot's layout starts from: an explicit size (extra axes stand a fixed
 * number of pixels apart, so a resize redraws) in the theme's colours and font.
 */
export function plotCanvas(
  theme: ITheme,
  size: { width: number; height: number }
) {
  return {
    width: size.width,
    height: size.height,
    autosize: false,
    paper_bgcolor: theme.paper,
    plot_bgcolor: theme.plot,
    font: { color: theme.font, family: theme.fontFamily, size: theme.fontSize }
  };
}

/** The current theme's colours, read from the CSS variables on `element` (document.body). */
export function readTheme(element: HTMLElement = document.body): ITheme {
  const style = getComputedStyle(element);
  const value = (name: string, fallback: string) =>
    style.getPropertyValue(name).trim() || fallback;
  const fontSize =
    parseFloat(value('--jp-ui-font-size1', '')) || FALLBACK.fontSize;
  return {
    paper: value('--jp-layout-color0', FALLBACK.paper),
    plot: value('--jp-layout-color0', FALLBACK.plot),
    font: value('--jp-ui-font-color1', FALLBACK.font),
    fontMuted: value('--jp-ui-font-color2', FALLBACK.fontMuted),
    fontFamily: value('--jp-ui-font-family', FALLBACK.fontFamily),
    fontSize,
    grid: value('--jp-border-color2', FALLBACK.grid),
    border: value('--jp-border-color1', FALLBACK.border),
    land: value('--jp-layout-color2', FALLBACK.land),
    water: value('--jp-layout-color0', FALLBACK.water),
    light: element.dataset.jpThemeLight !== 'false'
  };
}

/**
 * Call `onChange` with the new colours whenever JupyterLab switches theme.
 * The theme manager sets body's data-jp-theme-* attributes once the theme's
 * CSS is in place; the colours are read on the next frame so they are final.
 */
export function watchTheme(
  onChange: (theme: ITheme) => void,
  element: HTMLElement = document.body
): IDisposable {
  let frame = 0;
  const observer = new MutationObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => onChange(readTheme(element)));
  });
  observer.observe(element, {
    attributes: true,
    attributeFilter: ['data-jp-theme-light', 'data-jp-theme-name']
  });
  let disposed = false;
  return {
    get isDisposed() {
      return disposed;
    },
    dispose() {
      disposed = true;
      cancelAnimationFrame(frame);
      observer.disconnect();
    }
  };
}
