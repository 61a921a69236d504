// Bar, line and pie charts drawn as SVG by hand (geometry in chart.ts). A charting package
// would bring a much larger bundle for three chart types; SVG also keeps every label a text
// node, never markup.
import { displayText } from "../expressions";
import { bars, linePoints, niceMax, PALETTE, seriesOf, slices, type Frame } from "./chart";
import type { RendererProps } from "./types";

const W = 400;
const H = 220;
const FRAME: Frame = { width: W, height: H, left: 40, bottom: 24 };

export function ChartRenderer({ component, props }: RendererProps) {
  const points = seriesOf(props.data, props.xKey, props.yKey);
  const kind = props.chartType === "line" || props.chartType === "pie" ? props.chartType : "bar";
  const title = displayText(props.title);
  const color = typeof props.color === "string" && /^#[0-9a-f]{3,8}$/i.test(props.color) ? props.color : (PALETTE[0] as string);

  return (
    <div className="r-chart">
      {title ? <div className="r-chart-title">{title}</div> : null}
      {points.length === 0 ? (
        <div className="r-chart-empty">{props.loading === true ? "Loading…" : "No data to chart"}</div>
      ) : (
        <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="xMidYMid meet" role="img" aria-label={title || `${kind} chart ${component.id}`}>
          {kind === "pie" ? <Pie points={points} /> : <Axes top={niceMax(points)} />}
          {kind === "bar"
            ? bars(points, FRAME).map((b, i) => (
                <g key={i}>
                  <rect x={b.x} y={b.y} width={b.width} height={b.height} fill={color}>
                    <title>{`${b.point.label}: ${b.point.value}`}</title>
                  </rect>
                  {points.length <= 20 ? (
                    <text x={b.x + b.width / 2} y={H - 8} textAnchor="middle" className="r-chart-label">
                      {b.point.label.slice(0, 12)}
                    </text>
                  ) : null}
                </g>
              ))
            : null}
          {kind === "line" ? <Line points={points} color={color} /> : null}
        </svg>
      )}
    </div>
  );
}

function Axes({ top }: { top: number }) {
  const plotH = H - FRAME.bottom;
  return (
    <g className="r-chart-axes">
      <line x1={FRAME.left} y1={0} x2={FRAME.left} y2={plotH} />
      <line x1={FRAME.left} y1={plotH} x2={W} y2={plotH} />
      {[0, 0.5, 1].map((f) => (
        <text key={f} x={FRAME.left - 4} y={plotH - f * plotH + 4} textAnchor="end" className="r-chart-label">
          {formatTick(top * f)}
        </text>
      ))}
    </g>
  );
}

function formatTick(n: number): string {
  return Math.abs(n) >= 1000 ? `${Math.round(n / 100) / 10}k` : String(Math.round(n * 100) / 100);
}

function Line({ points, color }: { points: ReturnType<typeof seriesOf>; color: string }) {
  const placed = linePoints(points, FRAME);
  return (
    <g>
      <polyline points={placed.map((p) => `${p.x},${p.y}`).join(" ")} fill="none" stroke={color} strokeWidth={2} />
      {placed.map((p, i) => (
        <circle key={i} cx={p.x} cy={p.y} r={3} fill={color}>
          <title>{`${p.point.label}: ${p.point.value}`}</title>
        </circle>
      ))}
    </g>
  );
}

function Pie({ points }: { points: ReturnType<typeof seriesOf> }) {
  const parts = slices(points, 110, H / 2, 90);
  return (
    <g>
      {parts.map((s, i) => (
        <path key={i} d={s.path} fill={PALETTE[i % PALETTE.length] ?? "#888"}>
          <title>{`${s.point.label}: ${s.point.value} (${Math.round(s.share * 100)}%)`}</title>
        </path>
      ))}
      {parts.slice(0, 8).map((s, i) => (
        <g key={`legend-${i}`}>
          <rect x={230} y={20 + i * 22} width={12} height={12} fill={PALETTE[i % PALETTE.length] ?? "#888"} />
          <text x={248} y={30 + i * 22} className="r-chart-label">
            {`${s.point.label.slice(0, 20)} ${Math.round(s.share * 100)}%`}
          </text>
        </g>
      ))}
    </g>
  );
}
