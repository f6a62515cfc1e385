// What the presenter shares, shown over the shared screen (docs/privacy.md): the
// SHARE_STATE message (docs/protocol.md §4.1) as a label or a card on the stage.
//
// The page never receives what is masked — the presenter masks its screen before
// encoding — so this only says what viewers are not shown: a "paused" label over the
// last picture, a neutral card instead of the picture while the screen is hidden, a
// small note while one application only, or parts, are shared.
//
// Text goes in as textContent, never as HTML; the looks come from CSS classes (the CSP
// allows no inline style): `.share-state` on the card, with `.paused`, `.hidden-screen`
// or `.note`; `.share-paused` or `.share-hidden` on the stage.

import { ShareMode } from "./protocol/index.js";

const CARD = "share-state";

/**
 * The sentence for a state, or "" when there is nothing to say (live, nothing masked).
 * @param {{mode: number, onlyWindow: boolean, masked: boolean} | null | undefined} state
 *   null or undefined: the presenter said nothing yet, which means live, nothing masked
 * @param {string} presenter the presenter's display name
 * @returns {string}
 */
export function shareStateText(state, presenter) {
  const mode = state?.mode ?? ShareMode.LIVE;
  if (mode === ShareMode.PAUSED) return `${presenter} paused the share`;
  if (mode === ShareMode.HIDDEN) return `${presenter} has hidden the screen`;
  if (state?.onlyWindow) return `${presenter} shares one application only`;
  if (state?.masked) return `Parts of ${presenter}'s screen are hidden`;
  return "";
}

/**
 * Show `state` on `stage`, the element holding the shared screen (a positioned box:
 * the card is placed inside it). Call it with every SHARE_STATE of the presenter, and
 * with null whenever the presenter changes. Returns the card (hidden when there is
 * nothing to say).
 * @param {HTMLElement} stage
 * @param {{mode: number, onlyWindow: boolean, masked: boolean} | null | undefined} state
 * @param {string} presenter the presenter's display name
 * @returns {HTMLElement}
 */
export function showShareState(stage, state, presenter) {
  let card = /** @type {HTMLElement | null} */ (stage.querySelector(`.${CARD}`));
  if (card === null) {
    card = stage.ownerDocument.createElement("div");
    card.className = CARD;
    card.setAttribute("role", "status");
    card.setAttribute("aria-live", "polite");
    stage.append(card);
  }
  const mode = state?.mode ?? ShareMode.LIVE;
  const text = shareStateText(state, presenter);
  card.textContent = text;
  card.hidden = text === "";
  card.classList.toggle("paused", mode === ShareMode.PAUSED);
  card.classList.toggle("hidden-screen", mode === ShareMode.HIDDEN);
  card.classList.toggle("note", mode === ShareMode.LIVE && text !== "");
  stage.classList.toggle("share-paused", mode === ShareMode.PAUSED);
  stage.classList.toggle("share-hidden", mode === ShareMode.HIDDEN);
  return card;
}
