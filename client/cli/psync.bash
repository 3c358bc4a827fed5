# bash completion for psync(1): subcommands, their verbs and options, and
# object names from the daemon (psync ls).
_psync()
{
	local cur prev cmd i words_before
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	local commands="lock rlock sem barrier event counter ping stat ls info top delete raw"

	# After "--" the rest is a command line of its own.
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == -- ]]; then
			COMPREPLY=($(compgen -c -- "$cur"))
			return
		fi
	done
	# The subcommand: the first word that is not a global option.
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--socket) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	if [[ $prev == --socket ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$commands --socket --json --help --version" -- "$cur"))
		return
	fi
	case $cmd in
	lock)	opts="--timeout --nonblock --shared --exclusive --conflict-exit-code --token-env --help --" ;;
	rlock)	opts="--timeout --nonblock --conflict-exit-code --token-env --help --" ;;
	sem)	opts="--value --bounded --timeout --nonblock --conflict-exit-code --help --" ;;
	barrier) opts="--parties --timeout --help" ;;
	event)	opts="set clear wait is-set --timeout --quiet --help" ;;
	counter) opts="get set add cas --help" ;;
	delete)	opts="--force" ;;
	top)	opts="--delay --help" ;;
	*)	opts="--help" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	case $cmd in
	event|counter)
		if [[ $prev == "$cmd" ]]; then
			COMPREPLY=($(compgen -W "$opts" -- "$cur"))
			return
		fi ;;
	ping|stat|top|raw)
		return ;;
	esac
	# An object name: ask the daemon (quietly; nothing if it is not there).
	local sock=
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == --socket ]] && sock="--socket ${COMP_WORDS[i+1]}"
	done
	COMPREPLY=($(compgen -W "$(psync $sock ls "$cur" 2>/dev/null |
	    awk 'NR > 1 { print $1 }')" -- "$cur"))
}
complete -F _psync psync
