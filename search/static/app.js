// zhsearch search page: results as you type, facets as chips, the article view.
// Everything that comes from an article is put in the page as text
// (textContent / text nodes), never parsed as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const input = $("q");
  const FACETS = ["category", "author", "tag", "year"];
  const FACET_NAMES = { category: "分类", author: "作者", tag: "标签", year: "年份" };
  const LIMIT = 10;
  const DEBOUNCE_MS = 30;

  const state = { q: "", page: 1, filters: { category: [], author: [], tag: [], year: [] } };
  let composing = false;
  let timer = 0;
  let searchSeq = 0;
  let suggestSeq = 0;
  let controller = null;
  let lastInput = 0;
  let lastResults = null;
  // Read by the browser tests: ms from the last keystroke to results on screen.
  const timing = (window.zhsearchTiming = { latencies: [], searches: 0 });

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }

  // Text with [start, end) spans wrapped in <mark>, built as DOM nodes.
  function marked(text, spans) {
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const [a, b] of spans || []) {
      if (a < last || b <= a) continue;
      frag.append(document.createTextNode(text.slice(last, a)), el("mark", { text: text.slice(a, b) }));
      last = b;
    }
    frag.append(document.createTextNode(text.slice(last)));
    return frag;
  }

  function metaLine(meta) {
    return ["author", "date", "category"].map((k) => meta && meta[k]).filter(Boolean).map(String).join(" · ");
  }

  function params() {
    const p = new URLSearchParams();
    p.set("q", state.q);
    if (state.page > 1) p.set("page", String(state.page));
    for (const name of ["category", "author", "tag"]) for (const v of state.filters[name]) p.append(name, v);
    const years = state.filters.year;
    if (years.length) {
      p.set("since", years[0]);
      p.set("until", years[0]);
    }
    return p;
  }

  // ---- searching
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  }

  async function run() {
    const q = input.value.trim();
    if (q !== state.q) {
      state.q = q;
      state.page = 1;
    }
    if (!state.q) {
      suggest(input.value);
      render(null);
      history.replaceState(null, "", location.pathname);
      return;
    }
    const seq = ++searchSeq;
    if (controller) controller.abort();
    controller = new AbortController();
    const p = params();
    history.replaceState(null, "", "?" + p.toString());
    p.set("limit", String(LIMIT));
    for (const f of FACETS) p.append("facet", f);
    let data;
    try {
      // The search is asked first, the completions after: the server answers in order.
      const pending = fetch("search?" + p.toString(), { signal: controller.signal });
      suggest(input.value);
      const response = await pending;
      data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
    } catch (err) {
      if (err.name === "AbortError" || seq !== searchSeq) return;
      showError(err.message);
      return;
    }
    if (seq !== searchSeq) return;
    render(data);
    const shown = performance.now();
    performance.mark("zhsearch-results-shown");
    timing.searches += 1;
    timing.query = data.query;
    if (lastInput) timing.latencies.push(shown - lastInput);
  }

  function showError(message) {
    $("status").textContent = "出错了：" + message;
    $("results").replaceChildren();
    $("facets").replaceChildren();
    $("pager").replaceChildren();
  }

  function render(data) {
    lastResults = data;
    showResultsView();
    const results = $("results");
    const status = $("status");
    const dym = $("didyoumean");
    $("notices").replaceChildren(...((data && data.notices) || []).map((n) => el("li", { text: n })));
    if (!data) {
      status.textContent = "";
      dym.hidden = true;
      results.replaceChildren();
      $("facets").replaceChildren();
      $("pager").replaceChildren();
      return;
    }
    status.textContent = data.total
      ? `找到 ${data.total} 篇文章 · 第 ${data.page}/${data.pages} 页 · ${Math.round(data.seconds * 1000)} 毫秒`
      : `没有找到与“${data.query}”相关的文章`;
    dym.hidden = !data.suggestion;
    $("suggestion-link").textContent = data.suggestion || "";
    results.replaceChildren(...data.hits.map(hitItem));
    renderFacets(data.facets || {});
    renderPager(data);
  }

  function hitItem(hit) {
    const link = el("a", { class: "title", href: articleHash(hit.id, hit.section.index), text: hit.title || hit.id });
    link.addEventListener("click", (e) => {
      e.preventDefault();
      openArticle(hit.id, hit.section.index, true);
    });
    const li = el("li", { class: "hit", "data-id": hit.id, "data-section": String(hit.section.index) }, link);
    const meta = metaLine(hit.meta);
    if (meta) li.append(el("div", { class: "meta", text: meta }));
    if (hit.section.path && hit.section.path.length) li.append(el("div", { class: "path", text: "§ " + hit.section.path.join(" › ") }));
    li.append(el("p", { class: "snippet" }, marked(hit.snippet, hit.highlights)));
    return li;
  }

  function renderFacets(facets) {
    const box = $("facets");
    const rows = [];
    for (const name of FACETS) {
      const counts = facets[name] || {};
      const active = state.filters[name];
      const values = Object.keys(counts).slice(0, 8); // the commonest
      for (const v of active) if (!values.includes(v)) values.unshift(v);
      if (!values.length) continue;
      const row = el("div", { class: "facet", "data-facet": name }, el("span", { class: "facet-name", text: FACET_NAMES[name] }));
      for (const value of values) {
        const on = active.includes(value);
        const chip = el("button", { type: "button", class: "chip", "aria-pressed": String(on), "data-value": value },
          document.createTextNode(value), el("span", { class: "count", text: String(counts[value] ?? 0) }));
        chip.addEventListener("click", () => toggleFacet(name, value));
        row.append(chip);
      }
      rows.push(row);
    }
    box.replaceChildren(...rows);
  }

  function toggleFacet(name, value) {
    const list = state.filters[name];
    const i = list.indexOf(value);
    if (i >= 0) list.splice(i, 1);
    else if (name === "year") list.splice(0, list.length, value);
    else list.push(value);
    state.page = 1;
    lastInput = performance.now();
    run();
  }

  function renderPager(data) {
    const pager = $("pager");
    if (data.pages <= 1) {
      pager.replaceChildren();
      return;
    }
    const prev = el("button", { type: "button", id: "prev", text: "上一页" });
    const next = el("button", { type: "button", id: "next", text: "下一页" });
    prev.disabled = data.page <= 1;
    next.disabled = data.page >= data.pages;
    prev.addEventListener("click", () => goPage(data.page - 1));
    next.addEventListener("click", () => goPage(data.page + 1));
    pager.replaceChildren(prev, el("span", { text: `${data.page} / ${data.pages}` }), next);
  }

  function goPage(page) {
    if (!lastResults || page < 1 || page > lastResults.pages) return;
    state.page = page;
    lastInput = performance.now();
    run().then(() => window.scrollTo(0, 0));
  }

  // ---- completions
  async function suggest(text) {
    const list = $("suggestions");
    const seq = ++suggestSeq;
    if (!text.trim() || composing) {
      list.hidden = true;
      return;
    }
    let data;
    try {
      const response = await fetch("suggest?" + new URLSearchParams({ q: text, limit: "6" }));
      if (!response.ok) return;
      data = await response.json();
    } catch (err) {
      return;
    }
    if (seq !== suggestSeq || document.activeElement !== input) return;
    const items = data.suggestions.map((s) => {
      const li = el("li", { role: "option", "aria-selected": "false" }, document.createTextNode(s.text),
        el("span", { class: "kind", text: s.kind === "title" ? "文章" : s.pinyin ? "拼音" : "词" }));
      li.addEventListener("mousedown", (e) => {
        e.preventDefault();
        pick(s);
      });
      li.zhsearch = s;
      return li;
    });
    list.replaceChildren(...items);
    list.hidden = !items.length;
  }

  function pick(s) {
    $("suggestions").hidden = true;
    if (s.kind === "title" && s.id) {
      openArticle(s.id, null, true);
      return;
    }
    input.value = s.text;
    lastInput = performance.now();
    run();
  }

  function moveSuggestion(step) {
    const items = [...$("suggestions").children];
    if ($("suggestions").hidden || !items.length) return false;
    let i = items.findIndex((li) => li.getAttribute("aria-selected") === "true");
    if (i >= 0) items[i].setAttribute("aria-selected", "false");
    i += step;
    if (i < 0 || i >= items.length) return i < 0 && step < 0 ? true : false;
    items[i].setAttribute("aria-selected", "true");
    return true;
  }

  // ---- the article view
  function articleHash(id, section) {
    const p = new URLSearchParams({ article: id });
    if (section != null) p.set("section", String(section));
    return "#" + p.toString();
  }

  function showResultsView() {
    $("article-view").hidden = true;
    $("results-view").hidden = false;
  }

  async function openArticle(id, section, push) {
    const p = new URLSearchParams({ q: state.q });
    let data;
    try {
      const response = await fetch("articles/" + encodeURIComponent(id) + "?" + p.toString());
      data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
    } catch (err) {
      showError(err.message);
      return;
    }
    if (push) history.pushState({ article: id, section }, "", location.search + articleHash(id, section));
    $("suggestions").hidden = true;
    $("results-view").hidden = true;
    const view = $("article-view");
    view.hidden = false;
    $("article-title").textContent = data.title || data.id;
    $("article-meta").textContent = metaLine(data.meta);
    const body = $("article-body");
    const nodes = [];
    let printed = [];
    let target = null;
    for (const s of data.sections) {
      // Parent headings without text of their own are not sections: print
      // them from the path when a section moves under a new parent.
      let depth = 0;
      while (depth < s.path.length && depth < printed.length && printed[depth] === s.path[depth]) depth++;
      for (; depth < s.path.length; depth++) nodes.push(el("h" + Math.min(depth + 2, 4), { text: s.path[depth] }));
      printed = s.path;
      const div = el("div", { class: "section", id: "section-" + s.index, "data-section": String(s.index), tabindex: "-1" },
        marked(s.text, s.highlights));
      if (s.index === section) {
        div.classList.add("current");
        target = div;
      }
      nodes.push(div);
    }
    body.replaceChildren(...nodes);
    if (!target) target = body.querySelector("mark")?.parentElement || null;
    if (target) {
      target.scrollIntoView({ block: "start" });
      window.scrollBy(0, -80);
      target.focus({ preventScroll: true });
    } else {
      window.scrollTo(0, 0);
    }
  }

  function fromLocation() {
    const p = new URLSearchParams(location.search);
    state.q = (p.get("q") || "").trim();
    state.page = Math.max(1, parseInt(p.get("page") || "1", 10) || 1);
    for (const name of ["category", "author", "tag"]) state.filters[name] = p.getAll(name);
    state.filters.year = p.get("since") ? [p.get("since").slice(0, 4)] : [];
    input.value = state.q;
    const h = new URLSearchParams(location.hash.slice(1));
    if (h.get("article")) {
      const sec = h.get("section");
      openArticle(h.get("article"), sec == null ? null : parseInt(sec, 10), false);
    } else if (lastResults && lastResults.query === state.q) {
      showResultsView();
    } else if (state.q) {
      const q = state.q;
      state.q = "";
      input.value = q;
      const page = state.page;
      run().then(() => {
        if (page > 1) goPage(page);
      });
    } else {
      render(null);
    }
  }

  // ---- events
  input.addEventListener("compositionstart", () => {
    composing = true;
    clearTimeout(timer);
  });
  input.addEventListener("compositionend", () => {
    composing = false;
    lastInput = performance.now();
    schedule();
  });
  input.addEventListener("input", (e) => {
    if (composing || e.isComposing) return; // half-typed pinyin: wait for compositionend
    lastInput = performance.now();
    schedule();
  });
  input.addEventListener("blur", () => setTimeout(() => ($("suggestions").hidden = true), 100));
  input.addEventListener("keydown", (e) => {
    if (e.isComposing || composing) return;
    if (e.key === "ArrowDown") {
      e.preventDefault();
      if (!moveSuggestion(1)) focusHit(0);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      moveSuggestion(-1);
    } else if (e.key === "Enter") {
      e.preventDefault();
      const chosen = [...$("suggestions").children].find((li) => li.getAttribute("aria-selected") === "true");
      if (chosen && !$("suggestions").hidden) pick(chosen.zhsearch);
      else {
        $("suggestions").hidden = true;
        lastInput = performance.now();
        run();
      }
    } else if (e.key === "Escape" && !$("suggestions").hidden) {
      e.preventDefault(); // the first Escape closes the completions; the next clears the box
      $("suggestions").hidden = true;
    }
  });
  $("search-form").addEventListener("submit", (e) => e.preventDefault());
  $("suggestion-link").addEventListener("click", (e) => {
    e.preventDefault();
    input.value = $("suggestion-link").textContent;
    lastInput = performance.now();
    run();
  });
  $("back").addEventListener("click", (e) => {
    e.preventDefault();
    history.back();
  });
  window.addEventListener("popstate", fromLocation);

  function hits() {
    return [...document.querySelectorAll("#results .hit .title")];
  }

  function focusHit(i) {
    const links = hits();
    if (!links.length) return;
    i = Math.max(0, Math.min(i, links.length - 1));
    document.querySelectorAll("#results .hit.selected").forEach((n) => n.classList.remove("selected"));
    links[i].closest(".hit").classList.add("selected");
    links[i].focus();
  }

  document.addEventListener("keydown", (e) => {
    if (e.target === input || e.isComposing) return;
    const articleOpen = !$("article-view").hidden;
    if (e.key === "/") {
      e.preventDefault();
      input.focus();
      input.select();
    } else if (e.key === "Escape" && articleOpen) {
      e.preventDefault();
      history.back();
    } else if (!articleOpen && (e.key === "ArrowDown" || e.key === "ArrowUp" || e.key === "j" || e.key === "k")) {
      const i = hits().indexOf(document.activeElement);
      if (i < 0) return;
      e.preventDefault();
      if ((e.key === "ArrowUp" || e.key === "k") && i === 0) input.focus();
      else focusHit(i + (e.key === "ArrowDown" || e.key === "j" ? 1 : -1));
    } else if (!articleOpen && lastResults && e.key === "ArrowRight") {
      goPage(lastResults.page + 1);
    } else if (!articleOpen && lastResults && e.key === "ArrowLeft") {
      goPage(lastResults.page - 1);
    }
  });

  fromLocation();
})();
