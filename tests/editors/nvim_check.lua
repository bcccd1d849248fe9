-- tests/editors/nvim_check.lua: run inside headless Neovim by nvim_test.py, with
-- editors/neovim/cdr.lua loaded. Waits for cdr's diagnostics on the current buffer, asks
-- for a hover, applies a formatting, and writes what the editor saw to $CDR_NVIM_OUT (JSON).
local out = { attached = false }
local buf = vim.api.nvim_get_current_buf()
out.filetype = vim.bo[buf].filetype
out.attached = vim.wait(10000, function() return next(vim.lsp.buf_get_clients(buf)) ~= nil end, 50)
out.got_diagnostics = vim.wait(10000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
out.diagnostics = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  local code = d.user_data and d.user_data.lsp and d.user_data.lsp.code or vim.NIL
  table.insert(out.diagnostics, { lnum = d.lnum, col = d.col, end_col = d.end_col, severity = d.severity,
                                  message = d.message, source = d.source, code = code })
end
local line = tonumber(os.getenv('CDR_HOVER_LINE'))
local col = tonumber(os.getenv('CDR_HOVER_CHARACTER'))
local hover = vim.lsp.buf_request_sync(buf, 'textDocument/hover', {
  textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = line, character = col } }, 5000)
out.hover = vim.NIL
for _, r in pairs(hover or {}) do
  if r.result then out.hover = r.result.contents.value end
end
vim.lsp.buf.formatting_sync(nil, 5000)
out.formatted = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
local f = io.open(os.getenv('CDR_NVIM_OUT'), 'w')
f:write(vim.fn.json_encode(out))
f:close()
vim.cmd('qa!')
