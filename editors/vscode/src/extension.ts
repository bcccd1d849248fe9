// editors/vscode/src/extension.ts: starts `cdr lsp` for .cdr files (docs/editors.md).
import { ExtensionContext, workspace, window } from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';

let client: LanguageClient | undefined;

export async function activate(context: ExtensionContext): Promise<void> {
  const command = workspace.getConfiguration('cdr').get<string>('path', 'cdr');
  // `cdr lsp --stdio`: the client adds --stdio for the stdio transport.
  const server: ServerOptions = { command, args: ['lsp'], transport: TransportKind.stdio };
  const options: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', language: 'cdr' }],
    synchronize: { fileEvents: workspace.createFileSystemWatcher('**/*.cdr') },
  };
  client = new LanguageClient('cdr', 'cdr language server', server, options);
  try {
    await client.start();
  } catch (e) {
    window.showErrorMessage(`cdr: could not start \`${command} lsp\` (set cdr.path): ${e}`);
  }
  context.subscriptions.push({ dispose: () => client?.stop() });
}

export function deactivate(): Thenable<void> | undefined {
  return client?.stop();
}
