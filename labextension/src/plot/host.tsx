/**
 * Where a view's Plotly div goes in its React tree. Plotly draws into a div it
 * owns, which must outlive React re-renders and remounts (JupyterLab unmounts a
 * ReactWidget's tree when it is detached, as on a restore or a move between
 * panels). The div is created once by the view; the host puts it back into
 * place after every render.
 */
import React from 'react';

function useHostedNode<T extends HTMLElement>(
  node: HTMLElement
): React.RefObject<T> {
  const ref = React.useRef<T>(null);
  React.useLayoutEffect(() => {
    const host = ref.current;
    if (host && node.parentElement !== host) {
      host.appendChild(node);
    }
  });
  return ref;
}

/**
 * The view's error above the graph, then the graph, or over it a hint while
 * there is nothing to draw. Test ids are `testid` with `-error` and `-hint`.
 */
export function GraphHost(props: {
  node: HTMLElement;
  testid: string;
  error: string | null;
  hint: string;
}): React.ReactElement {
  const host = useHostedNode<HTMLDivElement>(props.node);
  return (
    <>
      {props.error && (
        <div
          className="nf-Error"
          data-testid={`${props.testid}-error`}
          role="alert"
        >
          {props.error}
        </div>
      )}
      <div
        className={`nf-Plot-graphHost${props.hint ? ' nf-mod-empty' : ''}`}
        ref={host}
      >
        {props.hint && (
          <div className="nf-Plot-hint" data-testid={`${props.testid}-hint`}>
            {props.hint}
          </div>
        )}
      </div>
    </>
  );
}
