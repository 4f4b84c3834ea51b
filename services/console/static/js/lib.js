// The console's view layer: Preact (class components) with htm tagged templates, as pinned ES
// modules served by Parley (no build step, no bare imports, so no import map is needed).
import { Component, createRef, h, render } from "../vendor/preact-10.27.2.module.js";
import htm from "../vendor/htm-3.1.1.module.js";

export const html = htm.bind(h);
export { Component, createRef, render };

// Debounce: call `fn` once input has settled for `ms`.
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}
