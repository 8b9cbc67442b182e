// htm bound to Preact's h: templates compile to Preact elements, and every ${value} in a
// text position becomes a text node; customer text is never parsed as HTML.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
