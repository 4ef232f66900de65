// The few DOM helpers the views share. Text always goes in as text (never as HTML), so nothing an
// answer holds can become markup; and no element gets a `style` attribute, which the page's
// Content-Security-Policy forbids.

type Child = Node | string | null | undefined | false;

/** An element with attributes (true: present, false/null: absent) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | boolean | null> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) element.setAttribute(name, '');
    else if (typeof value === 'string') element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** The element with this id, of the expected kind (the page's markup is fixed: a miss is a bug). */
export function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`explorer: #${id} is missing from the page`);
  return element;
}

/** The first element matching `selector` inside `scope`, of the expected kind. */
export function within<T extends Element>(scope: ParentNode, selector: string, kind: new () => T): T {
  const element = scope.querySelector(selector);
  if (!(element instanceof kind)) throw new Error(`explorer: ${selector} is missing from the page`);
  return element;
}

/** Show a problem (or hide the box when `message` is null). */
export function showProblem(box: HTMLElement, message: string | null): void {
  box.textContent = message ?? '';
  box.hidden = message === null;
}
