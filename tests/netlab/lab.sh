#!/usr/bin/env bash
# The NAT lab's network: namespaces, veths, routes, NATs and firewalls (tests/netlab/README.md).
#
# Source it INSIDE the lab's private namespace (tests/netlab/run.sh makes one with
# `unshare --net --mount --pid --fork --mount-proc --kill-child` and a tmpfs on /run) and call
# `lab_up`; it refuses to run anywhere else. `lab_down` removes the namespaces (the unshare
# namespace dying removes everything anyway). Knobs: `lab_natnat drop|open`.
#
#   ctl (this namespace) 203.0.113.2 ──┐
#   pub 203.0.113.10 ──────────────────┤ inet: router 203.0.113.1, /32 point-to-point veths
#   nat1 203.0.113.21 ─ 10.0.1.0/24 ─ h1 (10.0.1.2)  port-restricted cone
#   nat2 203.0.113.22 ─ 10.0.2.0/24 ─ h2 (10.0.2.2)  port-restricted cone
#   nat3 203.0.113.23 ─ 10.0.3.0/24 ─ h3 (10.0.3.2)  symmetric (MASQUERADE --random-fully)
#   nat4 203.0.113.24 ─ 10.0.4.0/24 ─ h4 (10.0.4.2)  port-restricted cone
#   nat5 203.0.113.25 ─ 10.0.5.0/24 ─ h5 (10.0.5.2)  port-restricted cone (the Firefox host)

LAB_ROUTER=203.0.113.1
LAB_CTL=203.0.113.2
LAB_PUB=203.0.113.10
LAB_NATS=(nat1 nat2 nat3 nat4 nat5)
LAB_HOSTS=(h1 h2 h3 h4 h5)
LAB_NAT_KIND=(cone cone symmetric cone cone)
lab_wan_ip() { echo "203.0.113.2$1"; }   # NAT n's public address (n = 1..5)

lab_guard() {
    # Never touch the machine's own network: the initial namespace has more than `lo`, and
    # /run/netns must be the private tmpfs run.sh mounted.
    if [ "${NETLAB_INSIDE:-}" != 1 ]; then
        echo "lab.sh: run me inside tests/netlab/run.sh's private namespace (NETLAB_INSIDE=1)" >&2
        return 1
    fi
    if ! findmnt -n -o FSTYPE /run | grep -qx tmpfs || [ ! -e /run/.netlab ]; then
        echo "lab.sh: /run is not the lab's private tmpfs" >&2
        return 1
    fi
    local others
    others=$(ip -o link show | awk -F': ' '{print $2}' | grep -v '^lo$' || true)
    if [ -n "$others" ]; then
        echo "lab.sh: this namespace has interfaces besides lo ($others); not the lab's fresh namespace" >&2
        return 1
    fi
}

# lab_link NS_A IF_A NS_B IF_B: a veth pair between two namespaces ("" = this one).
lab_link() {
    ip link add "$2" type veth peer name "$4"
    [ -n "$1" ] && ip link set "$2" netns "$1"
    [ -n "$3" ] && ip link set "$4" netns "$3"
    lab_ip "$1" link set "$2" up
    lab_ip "$3" link set "$4" up
}
lab_ip() { local ns=$1; shift; if [ -n "$ns" ]; then ip -n "$ns" "$@"; else ip "$@"; fi; }
lab_ipt() { local ns=$1; shift; ip netns exec "$ns" iptables -w "$@"; }
lab_sysctl() { ip netns exec "$1" sysctl -qw "$2"; }

# lab_attach NS IF_IN_NS ADDR IF_IN_INET: a /32 point-to-point link from NS into inet.
lab_attach() {
    local ns=$1 dev=$2 addr=$3 idev=$4
    lab_link "$ns" "$dev" inet "$idev"
    ip -n inet addr add "$LAB_ROUTER/32" dev "$idev"
    ip -n inet route add "$addr/32" dev "$idev"
    lab_ip "$ns" addr add "$addr/32" dev "$dev"
    lab_ip "$ns" route add "$LAB_ROUTER/32" dev "$dev"
}

lab_up() {
    lab_guard || return 1
    set -e
    ip link set lo up
    for ns in inet pub "${LAB_NATS[@]}" "${LAB_HOSTS[@]}"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    lab_sysctl inet net.ipv4.ip_forward=1
    # inet drops nothing by default; lab_natnat adds the one cut the cases use.
    lab_ipt inet -N NATNAT
    lab_ipt inet -A FORWARD -j NATNAT

    # ctl: this namespace (the node test process) reaches pub, and only pub.
    lab_attach "" ctl "$LAB_CTL" i-ctl
    ip route add "$LAB_PUB/32" via "$LAB_ROUTER" dev ctl
    lab_ipt inet -A FORWARD -i i-ctl -o "i-pub" -j ACCEPT
    lab_ipt inet -A FORWARD -i i-pub -o "i-ctl" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    lab_ipt inet -A FORWARD -i i-ctl -j DROP
    lab_ipt inet -A FORWARD -o i-ctl -j DROP

    # pub: the signaling server and coturn.
    lab_attach pub eth0 "$LAB_PUB" i-pub
    ip -n pub route add default via "$LAB_ROUTER" dev eth0

    local n nat host kind wan
    for n in $(seq "${#LAB_NATS[@]}"); do
        nat=${LAB_NATS[n-1]} host=${LAB_HOSTS[n-1]} kind=${LAB_NAT_KIND[n-1]} wan=$(lab_wan_ip "$n")
        lab_attach "$nat" wan "$wan" "i-$nat"
        ip -n "$nat" route add default via "$LAB_ROUTER" dev wan
        lab_link "$nat" lan "$host" eth0
        ip -n "$nat" addr add "10.0.$n.1/24" dev lan
        ip -n "$host" addr add "10.0.$n.2/24" dev eth0
        ip -n "$host" route add default via "10.0.$n.1" dev eth0
        # DNS leaving the host is counted and dropped (DNSOUT): the browsers' flags and prefs
        # confine it, and the cases check that nothing was sent (lab has no resolver anyway).
        lab_ipt "$host" -N DNSOUT
        lab_ipt "$host" -A DNSOUT -j DROP
        lab_ipt "$host" -A OUTPUT -p udp --dport 53 -j DNSOUT
        lab_ipt "$host" -A OUTPUT -p tcp --dport 53 -j DNSOUT
        lab_sysctl "$nat" net.ipv4.ip_forward=1
        # NAT: LAN → WAN masqueraded; replies only (conntrack) back in; nothing else crosses.
        if [ "$kind" = symmetric ]; then
            lab_ipt "$nat" -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully
        else
            lab_ipt "$nat" -t nat -A POSTROUTING -o wan -j MASQUERADE
        fi
        lab_ipt "$nat" -P FORWARD DROP
        lab_ipt "$nat" -A FORWARD -i lan -o wan -j ACCEPT
        lab_ipt "$nat" -A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
        # WAN firewall: an unsolicited packet to the NAT itself must not leave a conntrack entry
        # that later makes MASQUERADE pick another port (TOOLCHAIN.md).
        lab_ipt "$nat" -A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
        lab_ipt "$nat" -A INPUT -i wan -j DROP
    done
    set +e
}

# lab_natnat drop|open: cut (or restore) every packet between two NATs' public addresses in inet,
# so only paths through pub (TURN) remain. Existing flows are cut too (conntrack is not consulted).
lab_natnat() {
    lab_ipt inet -F NATNAT
    if [ "$1" = drop ]; then
        lab_ipt inet -A NATNAT -i 'i-nat+' -o 'i-nat+' -j DROP
    fi
}

lab_down() {
    local ns
    for ns in "${LAB_HOSTS[@]}" "${LAB_NATS[@]}" pub inet; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    ip link del ctl 2>/dev/null
    return 0
}

# `lab.sh CMD ARGS` (only inside the lab): up | down | natnat drop|open | show
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
        up) lab_up ;;
        down) lab_down ;;
        natnat) lab_natnat "$2" ;;
        show)
            for ns in inet pub "${LAB_NATS[@]}" "${LAB_HOSTS[@]}"; do
                echo "== $ns"; ip -n "$ns" -br addr; ip -n "$ns" route
            done ;;
        *) echo "usage: lab.sh up|down|natnat drop|open|show (inside tests/netlab/run.sh)" >&2; exit 2 ;;
    esac
fi
