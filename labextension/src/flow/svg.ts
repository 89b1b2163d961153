/** Small DOM helpers for the flow view's SVG. */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with the given attributes. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string>
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  return element;
}

/** Set an attribute only when it changes: writing the same path again still costs a repaint. */
export function setIfChanged(
  element: Element,
  name: string,
  value: string
): void {
  if (element.getAttribute(name) !== value) {
    element.setAttribute(name, value);
  }
}
