/** Placeholder until the plot view lands. */
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';
import { NagelfluhContext } from '../context';

export function create(ctx: NagelfluhContext, args: ReadonlyPartialJSONObject): Widget {
  void ctx;
  void args;
  const widget = new Widget();
  widget.title.label = 'plot';
  return widget;
}
