// Training curves as a self-contained SVG: loss and accuracy by epoch, train and test,
// side by side, with axes, gridlines, a legend and the best test accuracy marked.
import { count } from './progress.js';

export interface CurvePoint {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss?: number;
  testAccuracy?: number;
}

const WIDTH = 960;
const HEIGHT = 440;
const PANEL = { top: 64, bottom: 56, left: 64, right: 24 };
const COLORS = { train: '#1f77b4', test: '#e4572e', grid: '#e6e6e6', axis: '#444', text: '#222', muted: '#666' };

export const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About `count` round tick values covering [min, max] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max - min <= 1e-9 * Math.max(1, Math.abs(min), Math.abs(max))) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    [min, max] = [min - pad, max + pad];
  }
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  const first = Math.floor(min / step);
  for (let i = first; i * step <= max + step * 1e-9 && ticks.length < 50; i++) ticks.push(Number((i * step).toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 1) return Number(value.toFixed(2)).toString();
  return Number(value.toPrecision(2)).toString();
}

interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

function panel(x0: number, width: number, title: string, yLabel: string, series: Series[], epochs: number[], mark?: { x: number; y: number; text: string }): string {
  const y0 = PANEL.top;
  const height = HEIGHT - PANEL.top - PANEL.bottom;
  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite);
  // Loss axes start at zero so a fall is read at its true size.
  const low = yLabel.startsWith('loss') ? Math.min(0, ...values) : Math.min(...values);
  const yTicks = niceTicks(low, Math.max(...values), 5);
  const [yMin, yMax] = [yTicks[0], yTicks[yTicks.length - 1]];
  const xMax = Math.max(...epochs, 1);
  const xMin = Math.min(...epochs, xMax === 1 ? 0 : 1);
  const xTicks = niceTicks(xMin, xMax, Math.min(10, Math.max(1, xMax - xMin))).filter((t) => Number.isInteger(t) && t >= xMin && t <= xMax);
  const sx = (x: number) => x0 + ((x - xMin) / Math.max(1e-12, xMax - xMin)) * width;
  const sy = (y: number) => y0 + height - ((y - yMin) / Math.max(1e-12, yMax - yMin)) * height;
  const out: string[] = [];
  out.push(`<text x="${x0 + width / 2}" y="${y0 - 14}" text-anchor="middle" font-size="15" font-weight="600" fill="${COLORS.text}">${escapeXml(title)}</text>`);
  for (const t of yTicks) {
    out.push(`<line x1="${x0}" x2="${x0 + width}" y1="${sy(t)}" y2="${sy(t)}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${x0 - 8}" y="${sy(t) + 4}" text-anchor="end" font-size="11" fill="${COLORS.muted}">${formatTick(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${y0 + height}" y2="${y0 + height + 5}" stroke="${COLORS.axis}"/>`);
    out.push(`<text x="${sx(t)}" y="${y0 + height + 18}" text-anchor="middle" font-size="11" fill="${COLORS.muted}">${t}</text>`);
  }
  out.push(`<line x1="${x0}" x2="${x0 + width}" y1="${y0 + height}" y2="${y0 + height}" stroke="${COLORS.axis}"/>`);
  out.push(`<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y0 + height}" stroke="${COLORS.axis}"/>`);
  out.push(`<text x="${x0 + width / 2}" y="${y0 + height + 38}" text-anchor="middle" font-size="12" fill="${COLORS.text}">epoch</text>`);
  out.push(`<text transform="translate(${x0 - 46} ${y0 + height / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="${COLORS.text}">${escapeXml(yLabel)}</text>`);
  for (const s of series) {
    const points = s.points.filter(([, v]) => Number.isFinite(v));
    if (points.length === 0) continue;
    const path = points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const [x, y] of points) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.8" fill="${s.color}"><title>${escapeXml(`${s.name}, epoch ${x}: ${formatTick(y)}`)}</title></circle>`);
  }
  if (mark) {
    out.push(`<circle cx="${sx(mark.x)}" cy="${sy(mark.y)}" r="6" fill="none" stroke="${COLORS.test}" stroke-width="2"/>`);
    const anchor = sx(mark.x) > x0 + width * 0.7 ? 'end' : 'start';
    const dx = anchor === 'end' ? -10 : 10;
    // A white box under the label keeps it readable where it crosses a curve.
    const labelWidth = mark.text.length * 6.2 + 8;
    const lx = sx(mark.x) + dx;
    const boxX = anchor === 'end' ? lx - labelWidth + 4 : lx - 4;
    out.push(`<rect x="${boxX.toFixed(1)}" y="${(sy(mark.y) + 7).toFixed(1)}" width="${labelWidth.toFixed(1)}" height="15" rx="3" fill="#fff" fill-opacity="0.9"/>`);
    out.push(`<text x="${lx}" y="${sy(mark.y) + 18}" text-anchor="${anchor}" font-size="11" fill="${COLORS.test}">${escapeXml(mark.text)}</text>`);
  }
  // Legend in the panel's upper right (loss) or lower right (accuracy), where curves rarely are.
  const legendY = yLabel.startsWith('loss') ? y0 + 8 : y0 + height - 12 - 18 * series.length;
  series.forEach((s, i) => {
    const ly = legendY + 18 * i;
    const lx = x0 + width - 110;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly + 6}" y2="${ly + 6}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 30}" y="${ly + 10}" font-size="12" fill="${COLORS.text}">${escapeXml(s.name)}</text>`);
  });
  return out.join('\n');
}

/** The SVG text for a run's curves; `title` heads the chart (model and data, say). */
export function renderCurves(points: CurvePoint[], title: string): string {
  const epochs = points.map((p) => p.epoch);
  const hasTest = points.some((p) => p.testLoss !== undefined && Number.isFinite(p.testLoss));
  const lossSeries: Series[] = [{ name: 'train', color: COLORS.train, points: points.map((p) => [p.epoch, p.trainLoss]) }];
  const accSeries: Series[] = [{ name: 'train', color: COLORS.train, points: points.map((p) => [p.epoch, p.trainAccuracy * 100]) }];
  let mark: { x: number; y: number; text: string } | undefined;
  if (hasTest) {
    lossSeries.push({ name: 'test', color: COLORS.test, dashed: true, points: points.map((p) => [p.epoch, p.testLoss ?? Number.NaN]) });
    accSeries.push({ name: 'test', color: COLORS.test, dashed: true, points: points.map((p) => [p.epoch, (p.testAccuracy ?? Number.NaN) * 100]) });
    const best = points.reduce((a, b) => ((b.testAccuracy ?? -1) > (a.testAccuracy ?? -1) ? b : a));
    if (best.testAccuracy !== undefined) mark = { x: best.epoch, y: best.testAccuracy * 100, text: `best ${(best.testAccuracy * 100).toFixed(2)}% (epoch ${best.epoch})` };
  }
  const panelWidth = (WIDTH - 2 * (PANEL.left + PANEL.right)) / 1;
  const half = panelWidth / 2;
  const subtitle = points.length === 0 ? 'no epochs finished yet' : mark ? mark.text.replace('best', 'best test accuracy') : `${count(points.length, 'epoch')}`;
  const body =
    points.length === 0
      ? ''
      : panel(PANEL.left, half, 'Loss', 'loss (cross entropy)', lossSeries, epochs) +
        '\n' +
        panel(PANEL.left * 2 + PANEL.right + half, half, 'Accuracy', 'accuracy (%)', accSeries, epochs, mark);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="16" font-weight="700" fill="${COLORS.text}">${escapeXml(title)}</text>`,
    `<text x="${WIDTH / 2}" y="40" text-anchor="middle" font-size="12" fill="${COLORS.muted}">${escapeXml(subtitle)}</text>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}
