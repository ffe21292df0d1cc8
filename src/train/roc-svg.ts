// A ROC chart as a self-contained SVG: TAR against FAR on a log axis from 1e-4 to 1
// (where face verification is judged), one curve per model, with each curve's TAR at
// the FAR targets marked.
import { escapeXml } from './curves.js';

export interface RocCurve {
  name: string;
  /** FAR ascending, with the TAR at each. */
  fpr: readonly number[];
  tpr: readonly number[];
  /** Points to mark, such as the 10-fold TAR at FAR 1e-3. */
  marks?: { far: number; tar: number }[];
}

const WIDTH = 640;
const HEIGHT = 480;
const BOX = { left: 72, right: 24, top: 64, bottom: 60 };
const COLORS = ['#e4572e', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b'];
const MIN_FAR = 1e-4;

export function renderRoc(curves: readonly RocCurve[], title: string, subtitle = ''): string {
  const width = WIDTH - BOX.left - BOX.right;
  const height = HEIGHT - BOX.top - BOX.bottom;
  const decades = -Math.log10(MIN_FAR);
  const sx = (far: number) => BOX.left + ((Math.log10(Math.max(far, MIN_FAR)) + decades) / decades) * width;
  const sy = (tar: number) => BOX.top + height - tar * height;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16" font-weight="700" fill="#222">${escapeXml(title)}</text>`,
    `<text x="${WIDTH / 2}" y="42" text-anchor="middle" font-size="12" fill="#666">${escapeXml(subtitle)}</text>`,
  ];
  for (let tick = 0; tick <= 10; tick += 2) {
    const y = sy(tick / 10);
    out.push(`<line x1="${BOX.left}" x2="${BOX.left + width}" y1="${y}" y2="${y}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${BOX.left - 8}" y="${y + 4}" text-anchor="end" font-size="11" fill="#666">${(tick / 10).toFixed(1)}</text>`);
  }
  for (let power = -decades; power <= 0; power++) {
    const x = sx(10 ** power);
    out.push(`<line x1="${x}" x2="${x}" y1="${BOX.top}" y2="${BOX.top + height}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${x}" y="${BOX.top + height + 18}" text-anchor="middle" font-size="11" fill="#666">${power === 0 ? '1' : `1e${power}`}</text>`);
  }
  out.push(`<rect x="${BOX.left}" y="${BOX.top}" width="${width}" height="${height}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${BOX.left + width / 2}" y="${HEIGHT - 16}" text-anchor="middle" font-size="12" fill="#222">false accept rate (log scale)</text>`);
  out.push(`<text transform="translate(${BOX.left - 44} ${BOX.top + height / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#222">true accept rate</text>`);
  curves.forEach((curve, c) => {
    const color = COLORS[c % COLORS.length];
    // A step curve: each TAR holds until the next FAR, as a ROC of discrete scores does.
    const points: string[] = [];
    curve.fpr.forEach((far, i) => {
      if (i > 0) points.push(`${sx(far).toFixed(1)},${sy(curve.tpr[i - 1]).toFixed(1)}`);
      points.push(`${sx(far).toFixed(1)},${sy(curve.tpr[i]).toFixed(1)}`);
    });
    out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const mark of curve.marks ?? []) {
      out.push(`<circle cx="${sx(mark.far).toFixed(1)}" cy="${sy(mark.tar).toFixed(1)}" r="4.5" fill="#fff" stroke="${color}" stroke-width="2"><title>${escapeXml(`${curve.name}: TAR ${mark.tar.toFixed(4)} at FAR ${mark.far}`)}</title></circle>`);
    }
    const ly = BOX.top + height - 16 - 18 * (curves.length - 1 - c);
    const lx = BOX.left + width - 220;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" font-size="12" fill="#222">${escapeXml(curve.name)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}
