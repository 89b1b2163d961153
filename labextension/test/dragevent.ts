/**
 * Import first in a spec that loads @lumino/widgets: its drag-and-drop module
 * extends DragEvent, which jsdom lacks.
 */
(globalThis as { DragEvent?: unknown }).DragEvent ??= class extends (
  MouseEvent
) {};
