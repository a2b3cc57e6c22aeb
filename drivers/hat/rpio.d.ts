/**
 * The slice of rpio (https://github.com/jperkin/node-rpio, an optional
 * dependency with no types of its own) that drivers/hat/gpio.ts uses. The
 * module exports one EventEmitter instance; it emits 'warn' when it cannot
 * detect Raspberry Pi hardware and falls back to mock mode.
 */
declare module 'rpio' {
  export interface RpioInitOptions {
    /** true: /dev/gpiomem (GPIO only, no root needed); false: /dev/mem. */
    gpiomem?: boolean
    /** 'physical': P01-P40 header numbering (RPi.GPIO's BOARD); 'gpio': Broadcom numbering. */
    mapping?: 'physical' | 'gpio'
    /** A board to emulate, or false to detect the hardware. */
    mock?: string | false
  }

  export interface Rpio {
    readonly LOW: number
    readonly HIGH: number
    readonly INPUT: number
    readonly OUTPUT: number
    init: (options?: RpioInitOptions) => void
    /** For an output, `option` is the level set before the pin is enabled. */
    open: (pin: number, mode: number, option?: number) => void
    read: (pin: number) => number
    write: (pin: number, value: number) => void
    on: (event: 'warn', listener: (message: string) => void) => unknown
    removeListener: (event: 'warn', listener: (message: string) => void) => unknown
  }

  const rpio: Rpio
  export default rpio
}
