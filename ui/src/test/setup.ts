// jsdom has no layout and so no ResizeObserver (Svelte's bind:clientHeight uses one): a
// stub that never reports, which leaves the windowed lists on their default viewport.
class NoResize {
  observe() {}
  unobserve() {}
  disconnect() {}
}
globalThis.ResizeObserver ??= NoResize as unknown as typeof ResizeObserver;
