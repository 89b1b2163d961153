/** React hooks tying the editor's panels to the shared store and selection. */
import * as React from 'react';
import { ISignal } from '@lumino/signaling';
import { IDataset } from '../api';
import { INagelfluhContext } from '../context';
import { Selection, ISelectionState } from '../selection';
import { readableError } from './errors';
import { pickDataset } from './picker';

/** Re-render whenever `signal` emits (the store's and selection's `changed`). */
export function useSignal<S>(signal: ISignal<S, unknown>): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setTick(tick => tick + 1);
    signal.connect(bump);
    return () => {
      signal.disconnect(bump);
    };
  }, [signal]);
}

export interface IFlowPickHandlers {
  /** A process was selected while `pointer` was armed: fill it with `dataset`. */
  picked(pointer: string, dataset: IDataset): void;
  /** The selected process has nothing to pick, or could not be read. */
  failed(message: string): void;
  /** A selection change that was not a pick. */
  follow?(state: ISelectionState): void;
}

/**
 * "Pick from flow" for the dataset fields of one form. Arming clears the shared
 * selection so that any process click counts as the pick, even on the process
 * that was selected before; once the pick is made (or given up) that earlier
 * selection comes back, so picking an input never changes what the other views
 * show.
 */
export function useFlowPick(
  ctx: INagelfluhContext,
  handlers: IFlowPickHandlers
): { armed: string | null; arm(pointer: string | null): void } {
  const [armed, setArmed] = React.useState<string | null>(null);
  const armedRef = React.useRef<string | null>(null);
  const before = React.useRef<ISelectionState | null>(null);
  const handlersRef = React.useRef(handlers);
  handlersRef.current = handlers;

  /** Bring back the selection from before arming, unless the user moved on since. */
  const restore = React.useCallback(
    (expected: number | null) => {
      const state = before.current;
      before.current = null;
      if (!state) {
        return;
      }
      // After the current emission has reached every view, not in the middle of it.
      void Promise.resolve().then(() => {
        if (ctx.selection.process === expected) {
          ctx.selection.select(state.process, state.version);
        }
      });
    },
    [ctx]
  );

  const setArmedBoth = (pointer: string | null) => {
    armedRef.current = pointer;
    setArmed(pointer);
  };

  const arm = React.useCallback(
    (pointer: string | null) => {
      if (pointer === null) {
        setArmedBoth(null);
        restore(null);
        return;
      }
      if (armedRef.current === null) {
        before.current = { ...ctx.selection.state };
        setArmedBoth(pointer);
        ctx.selection.select(null);
      } else {
        setArmedBoth(pointer);
      }
    },
    [ctx, restore]
  );

  React.useEffect(() => {
    const onSelection = (_: Selection, state: ISelectionState) => {
      const pointer = armedRef.current;
      if (pointer === null) {
        handlersRef.current.follow?.(state);
        return;
      }
      if (state.process === null) {
        return;
      }
      const id = state.process;
      setArmedBoth(null);
      void (async () => {
        try {
          const process =
            ctx.store.processById(id) ?? (await ctx.client.process(id));
          const pick = pickDataset(process, state.version);
          if ('error' in pick) {
            handlersRef.current.failed(pick.error);
          } else {
            handlersRef.current.picked(pointer, pick.dataset);
          }
        } catch (error) {
          handlersRef.current.failed(readableError(error));
        }
        restore(id);
      })();
    };
    ctx.selection.changed.connect(onSelection);
    return () => {
      ctx.selection.changed.disconnect(onSelection);
      if (armedRef.current !== null) {
        restore(null);
      }
    };
  }, [ctx, restore]);

  return { armed, arm };
}
