import { DOMParser, XMLSerializer, type Element, type Node as XmlNode } from "@xmldom/xmldom";

// An uploaded logo: a PNG (by its signature) or an SVG rebuilt from an allowlist of elements and
// attributes: no script, no foreign content, no event handlers, no links out of the document, no
// styles (they can fetch). Anything else is not an image we serve.

export const MAX_LOGO_BYTES = 100 * 1024;
export type LogoType = "image/png" | "image/svg+xml";
export type CheckedLogo = { ok: true; type: LogoType; bytes: Buffer } | { ok: false; reason: string };

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const SVG_NS = "http://www.w3.org/2000/svg";
const ELEMENTS = new Set([
  "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan", "defs",
  "linearGradient", "radialGradient", "stop", "title", "desc", "clipPath", "mask", "use", "symbol",
]);
const ATTRIBUTES = new Set([
  "viewBox", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "d", "points",
  "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap", "stroke-linejoin",
  "stroke-miterlimit", "stroke-dasharray", "opacity", "transform", "id", "class", "offset", "stop-color", "stop-opacity",
  "gradientUnits", "gradientTransform", "font-family", "font-size", "font-weight", "text-anchor", "dominant-baseline",
  "clip-path", "clip-rule", "mask", "preserveAspectRatio", "version", "role", "aria-label", "xmlns", "href", "xlink:href",
]);

/** An attribute value that points outside the document (url(http…), javascript:, data:) is dropped. */
function safeValue(name: string, value: string): boolean {
  if (name === "href" || name === "xlink:href") return value.startsWith("#");
  return !/url\(\s*['"]?(?!#)|javascript:|data:/i.test(value);
}

/** How deep a logo's elements may nest (a real logo needs a handful; the copy below recurses). */
export const MAX_SVG_DEPTH = 64;
const TOO_DEEP = Symbol("too deep");

function clean(node: Element, out: Document, depth = 0): Element | null {
  if (depth > MAX_SVG_DEPTH) throw TOO_DEEP;
  if (node.namespaceURI !== SVG_NS || !ELEMENTS.has(node.localName ?? "")) return null;
  const copy = out.createElementNS(SVG_NS, node.localName!);
  for (let i = 0; i < node.attributes.length; i++) {
    const attr = node.attributes.item(i)!;
    const name = attr.name;
    if (name.startsWith("xmlns")) continue;
    if (!ATTRIBUTES.has(name) || !safeValue(name, attr.value)) continue;
    if (name === "xlink:href") copy.setAttribute("href", attr.value);
    else copy.setAttribute(name, attr.value);
  }
  for (let child: XmlNode | null = node.firstChild; child; child = child.nextSibling) {
    if (child.nodeType === 1) {
      const kept = clean(child as Element, out, depth + 1);
      if (kept) copy.appendChild(kept);
    } else if (child.nodeType === 3) {
      copy.appendChild(out.createTextNode(child.nodeValue ?? ""));
    }
  }
  return copy;
}

type Document = ReturnType<DOMParser["parseFromString"]>;

/** The SVG rebuilt from what is allowed, or null when the text is not an SVG document. */
export function sanitizeSvg(text: string): string | null {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) return null;
  let parsed: Document;
  try {
    let failed = false;
    parsed = new DOMParser({ onError: () => void (failed = true) }).parseFromString(text, "image/svg+xml");
    if (failed) return null;
  } catch {
    return null;
  }
  const root = parsed.documentElement;
  if (!root || root.localName !== "svg" || root.namespaceURI !== SVG_NS) return null;
  const out = new DOMParser().parseFromString(`<svg xmlns="${SVG_NS}"/>`, "image/svg+xml");
  let cleaned: Element | null;
  try {
    cleaned = clean(root, out);
  } catch (e) {
    if (e === TOO_DEEP) return null;
    throw e;
  }
  if (!cleaned) return null;
  out.replaceChild(cleaned, out.documentElement!);
  return new XMLSerializer().serializeToString(out);
}

/** Checks an upload: a PNG as it is, an SVG sanitised; anything else refused with the reason. */
export function checkLogo(bytes: Buffer): CheckedLogo {
  if (bytes.length === 0) return { ok: false, reason: "Choose a logo file." };
  if (bytes.length > MAX_LOGO_BYTES) return { ok: false, reason: `The logo is larger than ${MAX_LOGO_BYTES / 1024} KB.` };
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return { ok: true, type: "image/png", bytes };
  const text = bytes.toString("utf8");
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i.test(text)) {
    const svg = sanitizeSvg(text);
    if (svg) return { ok: true, type: "image/svg+xml", bytes: Buffer.from(svg, "utf8") };
    return { ok: false, reason: `This SVG could not be read as an SVG image (it must be well-formed, with no DOCTYPE, its elements nested at most ${MAX_SVG_DEPTH} deep).` };
  }
  return { ok: false, reason: "The logo must be a PNG or an SVG image; this file is neither." };
}
