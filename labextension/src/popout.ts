/**
 * Pop-out windows: a view opened in its own browser window is a second
 * JupyterLab page in its own workspace (so the main layout is untouched), in
 * single-document mode, showing only that view; the selection reaches it over
 * the BroadcastChannel of `Selection`.
 */
import { ViewKind } from './context';

const PARAM = 'nagelfluh-view';
const KINDS: ViewKind[] = ['flow', 'editor', 'log', 'plot', 'map'];

/** The URL that opens `kind` alone; `appUrl` is the Lab page's URL (base URL + `lab`). */
export function popOutUrl(kind: ViewKind, appUrl: string): string {
  const url = new URL(appUrl);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/workspaces/nagelfluh-${kind}`;
  url.search = '';
  url.searchParams.set('reset', '');
  url.searchParams.set(PARAM, kind);
  url.hash = '';
  return url.toString();
}

/** The view this page was opened to show alone, or null for an ordinary Lab page. */
export function popOutKind(href: string): ViewKind | null {
  const kind = new URL(href).searchParams.get(PARAM);
  return KINDS.includes(kind as ViewKind) ? (kind as ViewKind) : null;
}
