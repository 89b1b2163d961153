/**
 * Plotly draws into a div it owns, which must outlive React re-renders and
 * remounts (JupyterLab unmounts a ReactWidget's tree when it is detached, as
 * on a restore or a move between panels). The div is created once by the
 * view; this hook puts it back into its host element after every render.
 */
import React from 'react';

export function useHostedNode<T extends HTMLElement>(node: HTMLElement): React.RefObject<T> {
  const ref = React.useRef<T>(null);
  React.useLayoutEffect(() => {
    const host = ref.current;
    if (host && node.parentElement !== host) {
      host.appendChild(node);
    }
  });
  return ref;
}
