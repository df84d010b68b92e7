/** Exit codes of the `segw` command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/** Usage or configuration error: nothing was started. */
export const EXIT_USAGE = 2;
