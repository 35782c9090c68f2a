// A status line that clears itself: "Link copied." and the like are true for a moment, then gone
// (a message that must stay says when it happened instead). A reactive controller, so its host
// re-renders when the message appears and when it goes.
import type { ReactiveController, ReactiveControllerHost } from 'lit';

export class Flash implements ReactiveController {
  text: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: ReactiveControllerHost, private readonly ms = 5000) {
    host.addController(this);
  }

  show(text: string, ms = this.ms): void {
    clearTimeout(this.timer);
    this.text = text;
    this.host.requestUpdate();
    this.timer = setTimeout(() => this.clear(), ms);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.text = undefined;
    this.host.requestUpdate();
  }

  hostDisconnected(): void {
    clearTimeout(this.timer);
  }
}

/** "at 14:02:11": when a message that stays was true. */
export function atTime(when: number = Date.now()): string {
  return `at ${new Date(when).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })}`;
}
