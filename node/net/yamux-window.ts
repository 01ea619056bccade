// Yamux window updates once half of a stream's receive window is used, not after every data frame.
//
// @libp2p/yamux (8.x) answers every received data frame with a window update frame. Our streams
// are long-lived and carry many small messages (votes, checkpoint signatures, entry batches), so
// that doubled the frames on every connection: each gossip message drew a 12-byte frame back,
// which the other side had to encrypt, write, wake up for, read, decrypt and parse. The yamux
// specification leaves the timing of window updates to the receiver; hashicorp/yamux (the
// reference implementation) and go-libp2p's yamux send one only when the window to hand back
// reaches half the receive window, or when the update carries a flag (SYN/ACK). This module
// installs that rule on the library's stream class, keeping its window auto-tuning.
//
// A sender still never waits for more than half a window of data (128 KiB by default) to be
// read: once it has used up half its window, the receiver has read that half and hands it back.
import { StreamState, YamuxStream } from '@libp2p/yamux/stream';

/** Yamux frame type of a window update (the spec's type 0x1). */
const WINDOW_UPDATE = 1;

/** The fields of YamuxStream this rule reads and writes (they are not part of its typed API). */
interface YamuxStreamInternals {
  state: StreamState;
  recvWindow: number;
  recvWindowCapacity: number;
  maxStreamWindowSize: number;
  epochStart: number;
  streamId: number;
  getRTT(): number;
  getSendFlags(): number;
  sendFrame(header: { type: number; flag: number; streamID: number; length: number }): boolean;
}

/** Frames handed back are counted for tests and diagnostics. */
export const yamuxWindowStats = { updatesSent: 0, updatesHeld: 0 };

/** The library's own method, kept for a stream that lacks the fields this rule reads. */
let librarySendWindowUpdate: ((this: YamuxStreamInternals) => void) | undefined;

function sendWindowUpdate(this: YamuxStreamInternals): void {
  // A library version whose streams lack these fields keeps its own behaviour (the tests then
  // fail on the frame counts) rather than sending a corrupt update.
  if (typeof this.recvWindow !== 'number' || typeof this.recvWindowCapacity !== 'number' || typeof this.epochStart !== 'number') {
    librarySendWindowUpdate!.call(this);
    return;
  }
  if (this.state === StreamState.Paused) {
    // As the library does: restart the epoch so that resuming does not count the pause.
    this.epochStart = Date.now();
    return;
  }
  const flags = this.getSendFlags();
  // The library's auto-tuning: data read within four round trips of the last update doubles the
  // receive window (up to its maximum). With updates sent per half window instead of per frame,
  // "the last update" is rarer, so a stream of small messages no longer grows its window (and
  // what a sender may have in flight to us) towards the 16 MiB maximum; bulk transfers still do.
  const now = Date.now();
  const rtt = this.getRTT();
  if (flags === 0 && rtt > -1 && now - this.epochStart <= rtt * 4) {
    this.recvWindow = Math.min(this.recvWindow * 2, this.maxStreamWindowSize);
  }
  const delta = this.recvWindow - this.recvWindowCapacity;
  // The rule of hashicorp/yamux: hold the update until it hands back half the window.
  if (flags === 0 && delta < this.recvWindow / 2) {
    if (delta > 0) yamuxWindowStats.updatesHeld++;
    return;
  }
  this.recvWindowCapacity = this.recvWindow;
  this.epochStart = now;
  yamuxWindowStats.updatesSent++;
  this.sendFrame({ type: WINDOW_UPDATE, flag: flags, streamID: this.streamId, length: delta });
}

let installed = false;

/**
 * Installs the rule on @libp2p/yamux's stream class (once per process). Throws if the class no
 * longer has the methods it replaces and calls, so that a changed library fails at start rather
 * than breaking flow control.
 */
export function installYamuxWindowRule(): void {
  if (installed) return;
  const proto = YamuxStream.prototype as unknown as Record<string, unknown>;
  if (typeof proto['sendWindowUpdate'] !== 'function' || typeof proto['getSendFlags'] !== 'function' || StreamState.Paused === undefined) {
    throw new Error('@libp2p/yamux changed: YamuxStream.sendWindowUpdate/getSendFlags not found; review node/net/yamux-window.ts');
  }
  librarySendWindowUpdate = proto['sendWindowUpdate'] as typeof librarySendWindowUpdate;
  proto['sendWindowUpdate'] = sendWindowUpdate;
  installed = true;
}
