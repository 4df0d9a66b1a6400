/**
 * Where a resource URI goes behind the gateway: to the upstream that listed it (the first, in the config's
 * order, when two list one URI), else to one whose listed template covers it, else to the only upstream
 * that serves resources. Learnt from the lists as they pass, per client session.
 */
import { isObject } from '../bridge/bridge.js';
import type { Member } from './member.js';
import { templateMatcher, type ListKind } from './merge.js';

type Json = Record<string, unknown>;

/** Resource URIs remembered per session for routing (10,000); past it, templates and the sole upstream route. */
export const MAX_KNOWN_URIS = 10_000;

export class ResourceRoutes {
  readonly #uris = new Map<string, Member>();
  #templates: Array<{ member: Member; template: string; test: (uri: string) => boolean }> = [];

  /** The upstream that serves `uri`, when one does. */
  memberFor(uri: string, members: readonly Member[]): Member | undefined {
    const listed = this.#uris.get(uri);
    if (listed) return listed;
    for (const t of this.#templates) if (t.test(uri)) return t.member;
    const serving = members.filter((m) => m.init === undefined || isObject(m.capabilities.resources));
    return serving.length === 1 ? serving[0] : undefined;
  }

  /** The upstream that listed a template (a completion's `ref/resource` names it). */
  templateOwner(template: unknown): Member | undefined {
    return this.#templates.find((t) => t.template === template)?.member;
  }

  /** What a list teaches: each resource's URI, each template, and who listed it. */
  recorder(kind: ListKind, member: Member): ((item: Json) => void) | undefined {
    if (kind.key === 'resources') {
      return (item) => {
        if (typeof item.uri !== 'string') return;
        const owner = this.#uris.get(item.uri);
        if (owner === undefined ? this.#uris.size < MAX_KNOWN_URIS : owner.state !== 'open')
          this.#uris.set(item.uri, member);
      };
    }
    if (kind.key === 'resourceTemplates') {
      return (item) => {
        const template = item.uriTemplate;
        if (typeof template !== 'string') return;
        if (this.#templates.some((t) => t.member === member && t.template === template)) return;
        this.#templates.push({ member, template, test: templateMatcher(template) });
      };
    }
    return undefined;
  }

  /** The upstream's resources changed: what it listed routes to it again once it lists it again. */
  forget(member: Member): void {
    for (const [uri, m] of this.#uris) if (m === member) this.#uris.delete(uri);
    this.#templates = this.#templates.filter((t) => t.member !== member);
  }
}
