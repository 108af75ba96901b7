import { createHash } from 'node:crypto';
import escapeHtml from 'escape-html';

/**
 * A tagged template that escapes every interpolated value unless it is already Html, so a page cannot be
 * broken (or scripted) by a HubSpot error description or user name we echo.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Part = Html | string | number | undefined | null | false | Part[];

function render(part: Part): string {
  if (part === undefined || part === null || part === false) return '';
  if (Array.isArray(part)) return part.map(render).join('');
  if (part instanceof Html) return part.value;
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  return new Html(strings.reduce((out, text, index) => out + text + (index < values.length ? render(values[index]) : ''), ''));
}

/** The pages' only styling, inline so a page needs nothing but itself; the CSP allows exactly this text. */
const PAGE_STYLE = `
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2a37; background: #f5f8fa; margin: 0; }
  main { max-width: 40rem; margin: 3rem auto; padding: 2rem; background: #fff; border: 1px solid #cbd6e2; border-radius: 8px; }
  h1 { font-size: 1.5rem; margin-top: 0; }
  .status { padding: .75rem 1rem; border-radius: 6px; border-left: 4px solid; }
  .ok { background: #e5f8f6; border-color: #00a4bd; }
  .warn { background: #fef8f0; border-color: #f5c26b; }
  .error { background: #fdedee; border-color: #f2545b; }
  a.button { display: inline-block; padding: .6rem 1.2rem; background: #ff7a59; color: #fff; border-radius: 4px; text-decoration: none; font-weight: 600; }
  a.button:focus { outline: 3px solid #1f2a37; outline-offset: 2px; }
  code { background: #eaf0f6; padding: 0 .25rem; border-radius: 3px; }
  dt { font-weight: 600; }
`;

/** The CSP source that allows PAGE_STYLE and no other inline style (plugins/security-headers.ts). */
export const PAGE_STYLE_SOURCE = `'sha256-${createHash('sha256').update(PAGE_STYLE).digest('base64')}'`;

export function page(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Viewer Guard</title>
<style>${new Html(PAGE_STYLE)}</style>
</head>
<body><main>${body}</main></body>
</html>`.value;
}
