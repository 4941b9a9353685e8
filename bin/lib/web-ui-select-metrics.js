async (ids) => {
  // Adds each metric id to the operator's Metrics tab with the "Add metric" selector, as a user
  // would, switches each chart to "Numeric", then reports the charts: [[metric id, value], ...].
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const charts = () => Array.from(document.querySelectorAll('flink-job-chart'));
  const title = (c) => (c.querySelector('.title .text') || { textContent: '' }).textContent.trim();
  for (const id of ids) {
    if (charts().some((c) => title(c) === id)) continue;
    const select = document.querySelector('flink-job-overview-drawer-chart nz-select');
    if (!select) return JSON.stringify({ state: 'no metric selector yet' });
    select.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    const input = select.querySelector('input');
    if (input) {
      input.focus();
      input.value = id;
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }
    await sleep(500);
    const options = Array.from(document.querySelectorAll('nz-option-item'));
    const option = options.find((o) => o.textContent.trim() === id);
    if (!option) {
      return JSON.stringify({ state: 'no option ' + id, options: options.slice(0, 5).map((o) => o.textContent.trim()) });
    }
    option.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    await sleep(300);
  }
  // A chart shows its latest value as text in its "Numeric" mode (the default draws a line).
  for (const c of charts()) {
    const numeric = c.querySelector('.numeric');
    if (numeric && numeric.hidden) {
      const button = Array.from(c.querySelectorAll('.type-switch button')).find(
        (b) => b.textContent.trim() === 'Numeric');
      if (button) button.click();
    }
  }
  return JSON.stringify({
    state: 'ok',
    charts: charts().map((c) => [title(c), (c.querySelector('.numeric') || { textContent: '' }).textContent.trim()]),
  });
}
