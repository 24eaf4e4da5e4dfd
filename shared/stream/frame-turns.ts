// One client socket's frames, answered one at a time in arrival order: each is answered
// before the next is read, as Alpaca answers them, so a subscription's echo is never
// overtaken by the next change's (an order book read before the first echo let a second
// subscribe sent right behind it be answered first), and frames sent behind an auth wait
// for its check. The market-data hub keeps one per socket while it has frames to answer.
//
// A frame may also be set aside while it is taken (the hub does this for a frame that
// arrives before any auth: the local runtime was seen to hand a socket's second frame over
// before its first); the caller takes those back after the auth, or puts them first in line
// when it gives up waiting. The caller owns any timer: nothing here reads a clock.

export class FrameTurns<F> {
  #frames: F[] = [];
  #aside: F[] = [];
  #taking = false;

  /** `take` answers one frame; a frame whose answer fails goes to `failed` and the next is taken. */
  constructor(
    private readonly take: (frame: F) => Promise<void>,
    private readonly failed: (error: unknown) => void,
  ) {}

  /** Frames waiting their turn or set aside. */
  get waiting(): number {
    return this.#frames.length + this.#aside.length;
  }

  /** Nothing being taken, waiting or set aside: the socket's turns can be forgotten. */
  get idle(): boolean {
    return !this.#taking && this.waiting === 0;
  }

  /**
   * Queues a frame. If no frame was being taken, takes the queue until it is empty and
   * answers once it is; otherwise the frame is taken by the run already going.
   */
  push(frame: F): Promise<void> | undefined {
    this.#frames.push(frame);
    return this.#taking ? undefined : this.#run();
  }

  /** Keeps a frame (the one being taken) out of line until `takeAside` or `requeueAside`. */
  setAside(frame: F): void {
    this.#aside.push(frame);
  }

  /** The frames set aside, in the order they came, handed back to be answered by the caller now. */
  takeAside(): F[] {
    return this.#aside.splice(0);
  }

  /** Puts the frames set aside first in line, in the order they came. */
  requeueAside(): Promise<void> | undefined {
    this.#frames.unshift(...this.#aside.splice(0));
    return this.#taking ? undefined : this.#run();
  }

  async #run(): Promise<void> {
    this.#taking = true;
    try {
      for (let next = this.#frames.shift(); next !== undefined; next = this.#frames.shift()) {
        try {
          await this.take(next);
        } catch (error) {
          this.failed(error);
        }
      }
    } finally {
      this.#taking = false;
    }
  }
}
