# Short forms of orchestra's commands for fish. Source it from ~/.config/fish/config.fish:
#
#   source /path/to/claude-orchestra/shell/aliases.fish
#
# Each passes its arguments on untouched ($argv). With orchestra's completion installed
# (`orchestra completion --install`), TAB completes them like the commands they stand for
# (`--wraps`): oat <TAB> lists the agents. See docs/shell.md.

function osp --wraps 'orchestra spawn' --description 'orchestra spawn'
    command orchestra spawn $argv
end
function ols --wraps 'orchestra ls' --description 'orchestra ls'
    command orchestra ls $argv
end
function oup --wraps 'orchestra up' --description 'orchestra up'
    command orchestra up $argv
end
function oat --wraps 'orchestra attach' --description 'orchestra attach'
    command orchestra attach $argv
end
function owa --wraps 'orchestra attach --next --waiting' --description 'orchestra attach --next --waiting'
    command orchestra attach --next --waiting $argv
end
function olg --wraps 'orchestra logs' --description 'orchestra logs'
    command orchestra logs $argv
end
function osd --wraps 'orchestra send' --description 'orchestra send'
    command orchestra send $argv
end
function odf --wraps 'orchestra diff' --description 'orchestra diff'
    command orchestra diff $argv
end
function omg --wraps 'orchestra merge' --description 'orchestra merge'
    command orchestra merge $argv
end
function okl --wraps 'orchestra kill' --description 'orchestra kill'
    command orchestra kill $argv
end
function ocl --wraps 'orchestra clean' --description 'orchestra clean'
    command orchestra clean $argv
end
function ors --wraps 'orchestra resume' --description 'orchestra resume'
    command orchestra resume $argv
end
function oev --wraps 'orchestra events --follow' --description 'orchestra events --follow'
    command orchestra events --follow $argv
end
