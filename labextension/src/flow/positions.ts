/**
 * Where the user dragged nodes, per project, kept in JupyterLab's state
 * database so a project's picture survives reloads. Loaded once per project;
 * anything malformed in the database is ignored rather than trusted.
 */
import { IStateDB } from '@jupyterlab/statedb';
import { ReadonlyPartialJSONValue } from '@lumino/coreutils';
import type { IPoint } from './layout';

/** IStateDB key of the dragged positions of one project's nodes. */
export const POSITIONS_KEY = 'nagelfluh-lab:flow-positions:';

/** The part of JupyterLab's state database the positions use. */
export type PositionsDB = Pick<IStateDB, 'fetch' | 'save' | 'remove'>;

/** Dragged node positions of a project: node id → top-left corner. */
type Positions = Record<string, [number, number]>;

export class DraggedPositions {
  /**
   * @param _db - where positions are kept; without one they last as long as the view
   *   (and are known at once).
   * @param _loaded - called when a project's positions arrive from the database.
   */
  constructor(
    private readonly _db: PositionsDB | null,
    private readonly _loaded: () => void
  ) {}

  /** Whether `project`'s positions are known; if not, they are being loaded. */
  ready(project: number): boolean {
    if (this._positions.has(project)) {
      return true;
    }
    if (!this._db) {
      this._positions.set(project, {});
      return true;
    }
    this._load(project, this._db);
    return false;
  }

  /** Where the user dragged node `id` of `project`, if they did. */
  get(project: number | null, id: string): IPoint | undefined {
    const saved =
      project === null ? undefined : this._positions.get(project)?.[id];
    return saved ? { x: saved[0], y: saved[1] } : undefined;
  }

  /** Node `id` of `project` dragged to `point` (rounded to whole pixels). */
  set(project: number, id: string, point: IPoint): void {
    const positions = this._positions.get(project) ?? {};
    this._positions.set(project, positions);
    positions[id] = [Math.round(point.x), Math.round(point.y)];
  }

  /** Keep `project`'s positions, dropping those of nodes no longer `present`. */
  save(project: number, present: (id: string) => boolean): void {
    const positions = this._positions.get(project);
    if (!positions) {
      return;
    }
    for (const id of Object.keys(positions)) {
      if (!present(id)) {
        delete positions[id];
      }
    }
    void this._db?.save(POSITIONS_KEY + project, positions);
  }

  /** Forget every dragged position of `project`. */
  clear(project: number): void {
    this._positions.set(project, {});
    void this._db?.remove(POSITIONS_KEY + project);
  }

  private _load(project: number, db: PositionsDB): void {
    if (this._loading.has(project)) {
      return;
    }
    this._loading.add(project);
    db.fetch(POSITIONS_KEY + project)
      .then(parsePositions, () => ({}))
      .then(positions => {
        this._loading.delete(project);
        if (!this._positions.has(project)) {
          this._positions.set(project, positions);
        }
        this._loaded();
      });
  }

  /** Dragged positions per project, once loaded. */
  private readonly _positions = new Map<number, Positions>();
  private readonly _loading = new Set<number>();
}

/** Dragged positions as stored; anything malformed is ignored rather than trusted. */
function parsePositions(
  value: ReadonlyPartialJSONValue | undefined
): Positions {
  const positions: Positions = {};
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [id, point] of Object.entries(value)) {
      if (
        Array.isArray(point) &&
        point.length === 2 &&
        point.every(n => typeof n === 'number' && isFinite(n))
      ) {
        positions[id] = [point[0] as number, point[1] as number];
      }
    }
  }
  return positions;
}
