// The recorder's listener, added to every page and iframe (see robots/drivers/recorder.py).
(() => {
  if (window.__tandemRecorder) return;
  window.__tandemRecorder = true;
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const lower = (s) => norm(s).toLowerCase();
  const typeOf = (el) => (el.getAttribute('type') || '').toLowerCase();
  const visible = (el) => !!(el.getClientRects().length) && getComputedStyle(el).visibility !== 'hidden';
  // The text as written, which Playwright's names and texts match, where a style sheet only
  // changed its case (text-transform: 'KUNDEN' on screen for 'Kunden'); else the text shown.
  const textOf = (el) => {
    const shown = norm(el.innerText), written = norm(el.textContent);
    return shown !== written && shown.toUpperCase() === written.toUpperCase() ? written : shown;
  };
  const FIELD_TYPES = ['', 'text', 'email', 'tel', 'url', 'search', 'number', 'password', 'date', 'time'];

  function roleOf(el) {
    const explicit = el.getAttribute('role');
    if (explicit) return explicit.split(' ')[0];
    const tag = el.tagName.toLowerCase(), type = typeOf(el);
    if (tag === 'button') return 'button';
    if (tag === 'a' && el.hasAttribute('href')) return 'link';
    if (tag === 'input') {
      if (['button', 'submit', 'reset', 'image'].includes(type)) return 'button';
      if (type === 'checkbox') return 'checkbox';
      if (type === 'radio') return 'radio';
      if (type === 'search') return 'searchbox';
      if (type === 'number') return 'spinbutton';
      if (type === 'password') return null;
      if (FIELD_TYPES.includes(type)) return 'textbox';
      return null;
    }
    if (tag === 'textarea') return 'textbox';
    if (tag === 'select') return el.multiple ? 'listbox' : 'combobox';
    if (/^h[1-6]$/.test(tag)) return 'heading';
    return null;
  }
  function labelOf(el) {
    const aria = el.getAttribute('aria-label');
    if (aria) return norm(aria);
    const by = el.getAttribute('aria-labelledby');
    if (by) return norm(by.split(/\s+/).map((id) => (document.getElementById(id) ? textOf(document.getElementById(id)) : '')).join(' '));
    if (el.labels && el.labels.length) return norm(Array.from(el.labels).map(textOf).join(' '));
    return '';
  }
  function nameOf(el) {
    const tag = el.tagName.toLowerCase(), type = typeOf(el);
    if (tag === 'input' && ['button', 'submit', 'reset'].includes(type)) {
      return norm(el.getAttribute('aria-label') || el.value || (type === 'submit' ? 'Submit' : ''));
    }
    const label = labelOf(el);
    if (label) return label;
    if (['input', 'textarea', 'select'].includes(tag)) return norm(el.getAttribute('title') || el.getAttribute('placeholder'));
    return textOf(el) || norm(el.textContent) || norm(el.getAttribute('title'));
  }
  const everything = () => Array.from(document.querySelectorAll('*')).filter(visible);
  // How many elements a locator finds, the way Playwright matches: by substring, ignoring
  // case, unless exact.
  const matches = (text, wanted, exact) => exact ? norm(text) === wanted : lower(text).includes(wanted.toLowerCase());
  const countRole = (role, name, exact) => everything().filter((e) => roleOf(e) === role && matches(nameOf(e), name, exact)).length;
  const countLabel = (label, exact) => everything().filter((e) => ['input', 'textarea', 'select'].includes(e.tagName.toLowerCase()) && matches(labelOf(e), label, exact)).length;
  const countPlaceholder = (text, exact) => everything().filter((e) => matches(e.getAttribute('placeholder') || '', text, exact) && e.hasAttribute('placeholder')).length;
  const countTestId = (id) => document.querySelectorAll(`[data-testid="${CSS.escape(id)}"]`).length;
  const countText = (text, exact) => everything().filter((e) => !Array.from(e.children).some((c) => matches(textOf(c), text, exact)) && matches(textOf(e), text, exact)).length;

  function unique(candidate, count) {
    if (count(false) === 1) return candidate;
    if (count(true) === 1) return Object.assign(candidate, {exact: true});
    return null;
  }
  function cssOf(el) {
    // The last resort: an id that looks written by a person, else a path of tag:nth-of-type.
    if (el.id && !/[0-9]{3}|[0-9a-f]{8}|^[a-z]{1,2}[0-9]/i.test(el.id)) return '#' + CSS.escape(el.id);
    const parts = [];
    for (let node = el; node && node.nodeType === 1 && node !== document.body; node = node.parentElement) {
      const tag = node.tagName.toLowerCase();
      const same = Array.from(node.parentElement ? node.parentElement.children : []).filter((c) => c.tagName === node.tagName);
      parts.unshift(same.length > 1 ? `${tag}:nth-of-type(${same.indexOf(node) + 1})` : tag);
    }
    return 'body > ' + parts.join(' > ');
  }
  function locate(el, field) {
    const role = roleOf(el), name = nameOf(el), label = labelOf(el);
    const placeholder = el.getAttribute('placeholder'), testId = el.getAttribute('data-testid');
    const byRole = () => role && name ? unique({role, name}, (exact) => countRole(role, name, exact)) : null;
    const byLabel = () => label ? unique({label}, (exact) => countLabel(label, exact)) : null;
    const byPlaceholder = () => placeholder ? unique({placeholder: norm(placeholder)}, (exact) => countPlaceholder(norm(placeholder), exact)) : null;
    const byTestId = () => testId && countTestId(testId) === 1 ? {test_id: testId} : null;
    const text = textOf(el);
    const byText = () => text && text.length <= 80 ? unique({text}, (exact) => countText(text, exact)) : null;
    const order = field ? [byLabel, byPlaceholder, byRole, byTestId] : [byRole, byTestId, byText, byLabel];
    for (const attempt of order) {
      const found = attempt();
      if (found) return found;
    }
    return {css: cssOf(el)};
  }
  function framesOf() {
    const chain = [];
    for (let w = window; w !== w.parent; w = w.parent) {
      let element = null;
      try { element = w.frameElement; } catch (e) { element = null; }
      if (!element) return null;  // a frame of another site: the recorder works it out
      const title = element.getAttribute('title'), fname = element.getAttribute('name');
      chain.unshift(title ? `iframe[title=${JSON.stringify(title)}]` : fname ? `iframe[name=${JSON.stringify(fname)}]` : cssOf(element));
    }
    return chain;
  }
  const send = (event, el, field) => {
    try {
      window.__tandemRecord(Object.assign(event, {locator: locate(el, field), frames: framesOf()}));
    } catch (e) { /* the binding is gone: the recording ended */ }
  };
  const isField = (el) => (el.tagName === 'INPUT' && FIELD_TYPES.includes(typeOf(el))) || el.tagName === 'TEXTAREA' || el.isContentEditable;

  document.addEventListener('input', (e) => {
    const el = e.target;
    if (!(el instanceof Element) || !isField(el)) return;
    if (typeOf(el) === 'password') send({type: 'fill', password: true}, el, true);
    else send({type: 'fill', value: el.value}, el, true);
  }, true);
  document.addEventListener('change', (e) => {
    const el = e.target;
    if (!(el instanceof Element)) return;
    if (el.tagName === 'SELECT') {
      const option = el.selectedOptions[0];
      send({type: 'select', option: option ? norm(option.text) : ''}, el, true);
    } else if (el.tagName === 'INPUT' && ['checkbox', 'radio'].includes(typeOf(el))) {
      send({type: 'check', checked: el.checked}, el, true);
    }
  }, true);
  // Enter in a field submits its form with a click on the form's default button (detail 0):
  // the press is the step, that click is not another (a robot pressing Enter then clicking
  // would look for the button on the next page).
  let enteredForm = null, enteredAt = 0;
  document.addEventListener('keydown', (e) => {
    const el = e.target;
    if (e.key === 'Enter' && el instanceof Element && isField(el) && el.tagName !== 'TEXTAREA') {
      enteredForm = el.form || null;
      enteredAt = Date.now();
      send({type: 'press', key: 'Enter'}, el, true);
    }
  }, true);
  const submittedByEnter = (e, el) => e.detail === 0 && !!el.form && el.form === enteredForm && Date.now() - enteredAt < 1000;
  // A message the page shows after a click (a live region: role=status or alert) is what the
  // person waited for: the robot waits for it too (web.expect). Only the last message counts.
  let actedAt = 0;
  const shown = new WeakMap();
  const liveRegions = () => document.querySelectorAll('[role=status], [role=alert], [aria-live]');
  const seen = () => { for (const region of liveRegions()) shown.set(region, norm(region.innerText)); };
  new MutationObserver(() => {
    if (Date.now() - actedAt > 10000) { seen(); return; }
    for (const region of liveRegions()) {
      const text = norm(region.innerText);
      if (text && text !== shown.get(region) && visible(region)) {
        try { window.__tandemRecord({type: 'expect', text, frames: framesOf()}); } catch (e) { /* ended */ }
      }
      shown.set(region, text);
    }
  }).observe(document, {subtree: true, childList: true, characterData: true});
  document.addEventListener('click', () => { seen(); actedAt = Date.now(); }, true);
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') { seen(); actedAt = Date.now(); } }, true);

  document.addEventListener('click', (e) => {
    if (!(e.target instanceof Element)) return;
    let el = e.target.closest('button, a[href], input, select, textarea, option, label, summary, [role=button], [role=link], [role=tab], [role=menuitem], [role=checkbox], [role=radio]') || e.target;
    if (el.tagName === 'LABEL' && el.control) return;  // the control's change event says it
    if (['INPUT', 'SELECT', 'OPTION', 'TEXTAREA'].includes(el.tagName) && !['button', 'submit', 'reset', 'image'].includes(typeOf(el))) return;
    if (submittedByEnter(e, el)) return;
    send({type: 'click'}, el, false);
  }, true);
})();
