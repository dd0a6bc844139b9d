// Drafts of forms in sessionStorage only (shared office PCs: nothing personal outlives the
// tab, and logout clears it). Never localStorage.

const PREFIX = 'sahulat.draft.';

export function loadDraft(name) {
  try {
    const raw = sessionStorage.getItem(PREFIX + name);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

export function saveDraft(name, value) {
  try {
    sessionStorage.setItem(PREFIX + name, JSON.stringify(value));
  } catch {
    // storage full or disabled: the form still works, only the draft is not kept
  }
}

export function dropDraft(name) {
  try {
    sessionStorage.removeItem(PREFIX + name);
  } catch {
    // nothing to drop
  }
}

/** Removes every draft (logout). */
export function clearDrafts() {
  try {
    for (const key of Object.keys(sessionStorage)) if (key.startsWith(PREFIX)) sessionStorage.removeItem(key);
  } catch {
    // nothing to clear
  }
}

/** Keeps the drafts only if they were started by `username`; otherwise drops them. */
export function claimDrafts(username) {
  try {
    if (sessionStorage.getItem(`${PREFIX}owner`) !== username) {
      clearDrafts();
      sessionStorage.setItem(`${PREFIX}owner`, username);
    }
  } catch {
    // storage disabled: there are no drafts to keep or drop
  }
}
