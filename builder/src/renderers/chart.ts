// The geometry of the chart component, as pure functions: series from rows, bars, line
// points and pie slices in a viewBox of the given size. Drawn by Chart.tsx as plain SVG.

export type Point = { label: string; value: number };

/**
 * Points from rows: `xKey` gives the label, `yKey` the value. Without keys, the first
 * column is the label and the first numeric column the value. Non-numbers are skipped.
 */
export function seriesOf(data: unknown, xKey?: unknown, yKey?: unknown): Point[] {
  if (!Array.isArray(data)) return [];
  const rows = data.filter((r): r is Record<string, unknown> => r !== null && typeof r === "object" && !Array.isArray(r)).slice(0, 1000);
  const first = rows[0];
  if (!first) return [];
  const keys = Object.keys(first);
  const x = typeof xKey === "string" && xKey !== "" ? xKey : keys[0];
  const y = typeof yKey === "string" && yKey !== "" ? yKey : keys.find((k) => k !== x && toNumber(first[k]) !== null);
  if (x === undefined || y === undefined) return [];
  return rows.flatMap((row) => {
    const value = toNumber(Object.hasOwn(row, y) ? row[y] : undefined);
    const label = Object.hasOwn(row, x) ? row[x] : "";
    return value === null ? [] : [{ label: label === null || label === undefined ? "" : String(label), value }];
  });
}

// PostgreSQL numerics and bigints arrive as text: "12.50" counts as a number.
function toNumber(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}

export type Frame = { width: number; height: number; left: number; bottom: number };

/** The value axis: 0 to a round maximum (1, 2 or 5 times a power of ten). */
export function niceMax(points: readonly Point[]): number {
  const max = Math.max(0, ...points.map((p) => p.value));
  if (max === 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return ([1, 2, 5, 10].find((m) => m * power >= max) ?? 10) * power;
}

export type Bar = { x: number; y: number; width: number; height: number; point: Point };

export function bars(points: readonly Point[], frame: Frame): Bar[] {
  const top = niceMax(points);
  const plotW = frame.width - frame.left;
  const plotH = frame.height - frame.bottom;
  const slot = points.length === 0 ? 0 : plotW / points.length;
  return points.map((point, i) => {
    const height = (Math.max(0, point.value) / top) * plotH;
    return { x: frame.left + i * slot + slot * 0.15, y: plotH - height, width: slot * 0.7, height, point };
  });
}

export function linePoints(points: readonly Point[], frame: Frame): { x: number; y: number; point: Point }[] {
  const top = niceMax(points);
  const plotW = frame.width - frame.left;
  const plotH = frame.height - frame.bottom;
  const step = points.length <= 1 ? 0 : plotW / (points.length - 1);
  return points.map((point, i) => ({
    x: frame.left + (points.length <= 1 ? plotW / 2 : i * step),
    y: plotH - (Math.max(0, point.value) / top) * plotH,
    point,
  }));
}

export type Slice = { path: string; point: Point; share: number };

/** Pie slices around (cx, cy); negative values are left out, since a share can't be negative. */
export function slices(points: readonly Point[], cx: number, cy: number, r: number): Slice[] {
  const positive = points.filter((p) => p.value > 0);
  const total = positive.reduce((sum, p) => sum + p.value, 0);
  if (total === 0) return [];
  let angle = -Math.PI / 2;
  return positive.map((point) => {
    const share = point.value / total;
    const start = angle;
    angle += share * 2 * Math.PI;
    if (share >= 0.9999) {
      // One slice is the whole disc; an arc from a point to itself would draw nothing.
      return { path: `M ${cx - r} ${cy} a ${r} ${r} 0 1 0 ${2 * r} 0 a ${r} ${r} 0 1 0 ${-2 * r} 0`, point, share };
    }
    const [x1, y1] = [cx + r * Math.cos(start), cy + r * Math.sin(start)];
    const [x2, y2] = [cx + r * Math.cos(angle), cy + r * Math.sin(angle)];
    const large = share > 0.5 ? 1 : 0;
    return { path: `M ${cx} ${cy} L ${x1} ${y1} A ${r} ${r} 0 ${large} 1 ${x2} ${y2} Z`, point, share };
  });
}

export const PALETTE = ["#2f5bd3", "#e07a1f", "#2a9d61", "#c23b5a", "#7b57c9", "#2b9fb3", "#a3a12a", "#6b7280"];
