import type { Queryable } from '../pool.js';

export interface FrameworkRow {
  frameworkId: string;
  layer: string;
  description: string;
  synthetic: boolean;
}

/** framework_registry: what can run where; upserted at start so a description change in layers.yaml shows up. */
export interface FrameworkRegistryStore {
  upsert(db: Queryable, rows: readonly FrameworkRow[]): Promise<void>;
}

export const frameworkRegistryStore: FrameworkRegistryStore = {
  async upsert(db, rows) {
    if (rows.length === 0) return;
    await db.query(
      `INSERT INTO framework_registry (framework_id, layer, description, synthetic)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[])
       ON CONFLICT (framework_id) DO UPDATE SET layer = EXCLUDED.layer, description = EXCLUDED.description,
         synthetic = EXCLUDED.synthetic, updated_at = now()`,
      [
        rows.map((r) => r.frameworkId),
        rows.map((r) => r.layer),
        rows.map((r) => r.description),
        rows.map((r) => r.synthetic),
      ],
    );
  },
};
