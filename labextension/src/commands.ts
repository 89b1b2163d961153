/** Command ids, shared by the plugin, the side panel and the views. */
export namespace CommandIds {
  export const openPanel = 'nagelfluh:open-panel';
  export const newProcess = 'nagelfluh:new-process';
  export const openEditor = 'nagelfluh:open-editor';
  export const openFlow = 'nagelfluh:open-flow';
  export const openLog = 'nagelfluh:open-log';
  export const openPlot = 'nagelfluh:open-plot';
  export const openMap = 'nagelfluh:open-map';
  export const openView = 'nagelfluh:open-view';
  export const popOut = 'nagelfluh:pop-out';
  export const cancelActive = 'nagelfluh:cancel-active';
  export const refresh = 'nagelfluh:refresh';
  export const uploadFile = 'nagelfluh:upload-file';
  export const registerNotebook = 'nagelfluh:register-notebook';
}
