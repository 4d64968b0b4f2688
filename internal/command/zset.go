package command

func registerZSet(t *Table) {}
