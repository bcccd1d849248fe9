-- editors/neovim/cdr.lua: cdr's language server in Neovim's built-in client (Neovim 0.7 or
-- later; docs/editors.md). Load it from init.lua (`dofile('/path/to/cdr.lua')`) or with
-- `nvim --cmd 'luafile /path/to/cdr.lua'`. The command is `cdr` on PATH unless
-- vim.g.cdr_command names another.
local group = vim.api.nvim_create_augroup('cdr_lsp', { clear = true })
-- The file type (an autocommand, not vim.filetype.add: Neovim 0.7 reads that table only
-- with g:do_filetype_lua set).
vim.api.nvim_create_autocmd({ 'BufRead', 'BufNewFile' }, { group = group, pattern = '*.cdr', command = 'setfiletype cdr' })
vim.api.nvim_create_autocmd('FileType', {
  group = group,
  pattern = 'cdr',
  callback = function(args)
    vim.bo[args.buf].commentstring = '// %s'
    -- One server for the session: it finds each file's rule set (the nearest directory
    -- above it with a ruleset.cdr) by itself.
    if not vim.g.cdr_client_id then
      vim.g.cdr_client_id = vim.lsp.start_client({
        name = 'cdr',
        cmd = { vim.g.cdr_command or 'cdr', 'lsp' },
        root_dir = vim.fn.getcwd(),
      })
    end
    vim.lsp.buf_attach_client(args.buf, vim.g.cdr_client_id)
  end,
})
