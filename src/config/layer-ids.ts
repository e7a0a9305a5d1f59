/** The capability layers, bottom up (DESIGN §1): a closed set, so a layer id is a union type, never a plain string. */
export const layerIds = ['R1', 'R2', 'R3', 'R4', 'R5', 'R6'] as const;
export type LayerId = (typeof layerIds)[number];

export function isLayerId(value: string): value is LayerId {
  return (layerIds as readonly string[]).includes(value);
}
